"""Stage 0: the dataset of a cell, with seeded, recorded subsampling of each split."""

from __future__ import annotations

import numpy as np

from adapters import DATASET_SCHEMES, DataSplits
from harness.config import DatasetConfig


def seeded_subset(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subsample of ``limit`` out of ``n`` (all of them if no limit)."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def load_data(cfg: DatasetConfig) -> DataSplits:
    """Load ``cfg.name`` through its scheme, then subsample train/test (``max_train``/``max_test``).

    The two splits come from the scheme already disjoint; subsampling keeps them so.
    """
    scheme = DATASET_SCHEMES.get(cfg.scheme)
    splits = scheme.load(cfg.address, scheme.Options(**cfg.options))
    train_idx = seeded_subset(len(splits.train), cfg.max_train, cfg.subsample_seed)
    test_idx = seeded_subset(len(splits.test), cfg.max_test, cfg.subsample_seed + 1)
    return DataSplits(
        train=splits.train.select(train_idx),
        test=splits.test.select(test_idx),
        num_classes=splits.num_classes,
        class_names=splits.class_names,
        input_shape=splits.input_shape,
    )
