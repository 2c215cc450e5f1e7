"""``sklearn:<name>``: small real datasets shipped inside scikit-learn (no download)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from adapters.base import DatasetScheme, register_dataset_scheme
from adapters.data.synthetic import to_splits
from harness.errors import UserInputError

SHIPPED = ("digits",)


class SklearnOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    test_fraction: float = Field(0.25, gt=0, lt=1, description="Held-out fraction (stratified).")
    split_seed: int = Field(0, description="Seed of the train/test split.")


@register_dataset_scheme("sklearn")
class SklearnScheme(DatasetScheme):
    Options = SklearnOptions

    def validate(self, address, options):
        if address not in SHIPPED:
            raise UserInputError(f"Unknown sklearn dataset {address!r}. Available: {', '.join(SHIPPED)}")

    def load(self, address, options):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        bunch = load_digits()
        images = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]  # (n, 1, 8, 8) in [0, 1]
        x_train, x_test, y_train, y_test = train_test_split(
            images,
            bunch.target,
            test_size=options.test_fraction,
            random_state=options.split_seed,
            stratify=bunch.target,
        )
        return to_splits((x_train, y_train), (x_test, y_test), tuple(str(c) for c in range(10)))
