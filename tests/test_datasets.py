"""Dataset schemes on data made here (no hub): hf: resolution, column mapping, explicit splits.

``LOCAL_DATASETS`` maps every registered scheme to a builder of a tiny local dataset; the
contract test in ``test_adapters.py`` runs on each of them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from adapters import DATASET_SCHEMES
from adapters.data.hf_data import read_idx
from harness.config import DatasetConfig
from harness.data import load_data
from harness.errors import UserInputError


def _images(n: int, seed: int, size: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct uint8 grey images ``(n, size, size)`` and labels 0..2 (seeded)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    return images, np.arange(n) % 3


def _write_parquet(path: Path, images: np.ndarray, labels: np.ndarray, image_col="img", label_col="fine_label"):
    import datasets

    features = datasets.Features({image_col: datasets.Image(),
                                  label_col: datasets.ClassLabel(names=["cat", "dog", "emu"])})
    ds = datasets.Dataset.from_dict({image_col: list(images), label_col: labels.tolist()}, features=features)
    ds.to_parquet(str(path))


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def make_hf_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _write_parquet(root / "train-00000-of-00001.parquet", *_images(30, 0))
    _write_parquet(root / "test-00000-of-00001.parquet", *_images(12, 1))
    return root


def make_idx_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for prefix, seed, n in (("train", 0, 20), ("t10k", 1, 8)):
        images, labels = _images(n, seed)
        _write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def make_imagefolder(root: Path) -> Path:
    from PIL import Image

    for split, seed, n in (("train", 0, 12), ("test", 1, 6)):
        images, labels = _images(n, seed)
        for i, (image, label) in enumerate(zip(images, labels)):
            folder = root / split / ["cat", "dog", "emu"][label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i}.png")
    return root


LOCAL_DATASETS = {
    "synthetic": lambda tmp: ("synthetic:yinyang", {"n_train": 60, "n_test": 30}, (2,), 3),
    "sklearn": lambda tmp: ("sklearn:digits", {}, (1, 8, 8), 10),
    "hf": lambda tmp: (f"hf:{make_hf_dir(tmp / 'hfdir')}", {}, (1, 6, 6), 3),
    "parquet": lambda tmp: (f"parquet:{make_hf_dir(tmp / 'pq')}", {}, (1, 6, 6), 3),
    "imagefolder": lambda tmp: (f"imagefolder:{make_imagefolder(tmp / 'folder')}", {}, (1, 6, 6), 3),
    "idx": lambda tmp: (f"idx:{make_idx_dir(tmp / 'idx')}", {}, (1, 6, 6), 3),
}


def _load(name: str, **options):
    scheme, address = name.split(":", 1)
    impl = DATASET_SCHEMES.get(scheme)
    opts = impl.Options(**options)
    impl.validate(address, opts)
    return impl.load(address, opts)


def test_hf_local_parquet_resolves_and_maps_columns(tmp_path):
    directory = make_hf_dir(tmp_path / "d")
    result = _load(f"hf:{directory}", image_column="img", label_column="fine_label")
    images, labels = _images(30, 0)
    x, y = result.arrays("train")
    assert result.class_names == ("cat", "dog", "emu")
    np.testing.assert_allclose(x[:, 0], images / 255.0, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(y, labels)
    assert len(result.test) == 12


def test_hf_rgb_and_resize_options(tmp_path):
    result = _load(f"hf:{make_hf_dir(tmp_path / 'd')}", channels=3, image_size=4)
    assert result.input_shape == (3, 4, 4)


def test_hf_unknown_column_lists_the_columns(tmp_path):
    with pytest.raises(UserInputError, match="columns: img, fine_label"):
        _load(f"hf:{make_hf_dir(tmp_path / 'd')}", label_column="labels")


def test_hf_missing_split_lists_the_splits(tmp_path):
    with pytest.raises(UserInputError, match="no split validation; splits: train, test"):
        _load(f"hf:{make_hf_dir(tmp_path / 'd')}", test_split="validation")


def test_hf_hub_id_offline_says_it_could_not_be_resolved():
    # The real hub code path (datasets.load_dataset), up to where the network is needed.
    with pytest.raises(UserInputError, match="could not resolve dataset 'ylecun/mnist'"):
        _load("hf:ylecun/mnist")


def test_parquet_single_file_is_split_seeded_and_stratified(tmp_path):
    path = tmp_path / "all.parquet"
    _write_parquet(path, *_images(30, 0))
    first = _load(f"parquet:{path}", test_fraction=0.2, split_seed=3)
    again = _load(f"parquet:{path}", test_fraction=0.2, split_seed=3)
    assert (len(first.train), len(first.test)) == (24, 6)
    np.testing.assert_array_equal(first.arrays("test")[0], again.arrays("test")[0])
    assert np.bincount(first.arrays("test")[1]).tolist() == [2, 2, 2]


def test_idx_reads_what_was_written(tmp_path):
    directory = make_idx_dir(tmp_path / "idx")
    images, labels = _images(20, 0)
    np.testing.assert_array_equal(read_idx(directory / "train-images-idx3-ubyte.gz"), images)
    result = _load(f"idx:{directory}", class_names=["a", "b", "c"])
    np.testing.assert_array_equal(result.arrays("train")[1], labels)
    assert result.class_names == ("a", "b", "c")


def test_idx_truncated_file_names_the_file(tmp_path):
    directory = make_idx_dir(tmp_path / "idx")
    path = directory / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-5]))
    with pytest.raises(UserInputError, match="t10k-images-idx3-ubyte.gz.*truncated"):
        _load(f"idx:{directory}")


def test_idx_missing_directory_is_refused(tmp_path):
    with pytest.raises(UserInputError, match="not found"):
        _load(f"idx:{tmp_path / 'nope'}")


def test_subsampling_is_seeded_recorded_and_disjoint(tmp_path):
    directory = make_hf_dir(tmp_path / "d")
    cfg = DatasetConfig(name=f"hf:{directory}", max_train=10, max_test=5, subsample_seed=7)
    first, again = load_data(cfg), load_data(cfg)
    assert (len(first.train), len(first.test)) == (10, 5)
    np.testing.assert_array_equal(first.arrays("train")[0], again.arrays("train")[0])
    other = load_data(cfg.model_copy(update={"subsample_seed": 8}))
    assert not np.array_equal(first.arrays("train")[0], other.arrays("train")[0])
