"""``synthetic:<generator>``: datasets generated from seeds, e.g. ``synthetic:yinyang``."""

from __future__ import annotations

from typing import Callable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.base import DataSplits, DatasetScheme, register_dataset_scheme
from harness.errors import UserInputError
from harness.registry import Registry

GENERATORS: Registry[Callable[..., DataSplits]] = Registry("synthetic generator")


class SyntheticOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    n_train: int = Field(5000, gt=0, description="Training points.")
    n_test: int = Field(1000, gt=0, description="Held-out points.")
    train_seed: int = Field(42, description="Seed of the training draw.")
    test_seed: int = Field(40, description="Seed of the held-out draw (must differ).")
    features: Literal["xy", "xy1"] = Field(
        "xy", description="Yin-Yang features: (x, y) or (x, y, 1-x, 1-y)."
    )

    @model_validator(mode="after")
    def _different_seeds(self) -> "SyntheticOptions":
        if self.train_seed == self.test_seed:
            raise ValueError("train_seed and test_seed must differ (train and test would overlap)")
        return self


def yinyang_points(n: int, seed: int, r_big: float = 0.5, r_small: float = 0.1):
    """Kriener et al.'s Yin-Yang: ``(xy, label)`` with xy ``(n, 2)`` in [0, 2R]^2, label in {0,1,2}.

    Classes (0 yin, 1 yang, 2 dots) are drawn uniformly, then each point is rejection-sampled
    uniformly inside the disc of radius R until it falls in its class's region.
    """
    rng = np.random.default_rng(seed)

    def which_class(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d_right = np.hypot(x - 1.5 * r_big, y - r_big)
        d_left = np.hypot(x - 0.5 * r_big, y - r_big)
        is_yin = (d_right <= r_small) | ((d_left > r_small) & (d_left <= 0.5 * r_big)) | (
            (y > r_big) & (d_right > 0.5 * r_big)
        )
        is_dot = (d_right < r_small) | (d_left < r_small)
        return np.where(is_dot, 2, is_yin.astype(int))

    goals = rng.integers(0, 3, size=n)
    points = np.empty((n, 2))
    for i, goal in enumerate(goals):
        while True:
            x, y = rng.random(2) * 2 * r_big
            if np.hypot(x - r_big, y - r_big) > r_big:
                continue
            if which_class(np.array([x]), np.array([y]))[0] == goal:
                points[i] = (x, y)
                break
    return points, goals.astype(np.int64)


def to_splits(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    class_names: tuple[str, ...],
) -> DataSplits:
    """Wrap ``(X, y)`` arrays of both splits as Hugging Face datasets with input/label columns."""
    import datasets

    def as_dataset(xy: tuple[np.ndarray, np.ndarray]):
        inputs, labels = xy
        return datasets.Dataset.from_dict(
            {"input": inputs.astype(np.float32).reshape(len(inputs), -1), "label": labels.astype(np.int64)}
        )

    return DataSplits(
        train=as_dataset(train),
        test=as_dataset(test),
        num_classes=len(class_names),
        class_names=class_names,
        input_shape=tuple(train[0].shape[1:]),
    )


@GENERATORS.register("yinyang")
def yinyang(options: SyntheticOptions) -> DataSplits:
    def draw(n: int, seed: int):
        xy, labels = yinyang_points(n, seed)
        if options.features == "xy1":
            xy = np.concatenate([xy, 1 - xy], axis=1)
        return xy, labels

    return to_splits(
        draw(options.n_train, options.train_seed),
        draw(options.n_test, options.test_seed),
        ("yin", "yang", "dots"),
    )


@register_dataset_scheme("synthetic")
class SyntheticScheme(DatasetScheme):
    Options = SyntheticOptions

    def validate(self, address, options):
        if address not in GENERATORS:
            raise UserInputError(GENERATORS.unknown_message(address))

    def load(self, address, options):
        return GENERATORS.get(address)(options)
