"""Fashion-MNIST from the Debian package ``dataset-fashion-mnist``, read through ``idx:``.

CI installs the package (.ci/apt-packages.txt); this test is never skipped: without the package
it fails, saying how to install it.
"""

from pathlib import Path

import numpy as np

from adapters import DATASET_SCHEMES
from harness.config import DatasetConfig
from harness.data import load_data

FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_fashion_mnist_through_idx():
    assert FASHION.is_dir(), (
        f"{FASHION} is missing: apt-get install dataset-fashion-mnist (listed in .ci/apt-packages.txt)"
    )
    scheme = DATASET_SCHEMES.get("idx")
    options = scheme.Options()
    scheme.validate(str(FASHION), options)
    splits = scheme.load(str(FASHION), options)
    assert (len(splits.train), len(splits.test)) == (60000, 10000)
    assert splits.input_shape == (1, 28, 28)
    assert splits.class_names[0] == "T-shirt/top" and splits.class_names[9] == "Ankle boot"
    labels = np.asarray(splits.test.with_format("numpy")["label"])
    assert np.bincount(labels).tolist() == [1000] * 10


def test_fashion_mnist_subset_is_seeded():
    cfg = DatasetConfig(name=f"idx:{FASHION}", max_train=500, max_test=200, subsample_seed=0)
    data = load_data(cfg)
    x, y = data.arrays("train")
    assert x.shape == (500, 1, 28, 28) and 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(y, load_data(cfg).arrays("train")[1])
