"""The adapter contracts: how to get data (a dataset scheme) and a network (a model family).

Every registered adapter honours the same contract, and ``tests/test_adapters.py`` checks it for
each one: adding an architecture family or a dataset scheme is one new module and one decorator.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.registry import Registry


class NoOptions(BaseModel):
    """Options model of an adapter that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class DataSplits:
    """A labelled dataset with explicit, disjoint train and test splits.

    ``train`` and ``test`` are Hugging Face ``datasets.Dataset`` objects with an ``input`` column
    (one example: a float array of shape ``input_shape``) and an integer ``label`` column.
    """

    train: Any
    test: Any
    num_classes: int
    class_names: tuple[str, ...]
    input_shape: tuple[int, ...]
    _arrays: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` of a split: X float32 of shape ``(n, *input_shape)``, y int64 of shape (n,).

        Converted from the Arrow table once per split and kept (every stage of a cell reads them);
        callers must not modify them in place.
        """
        if split not in self._arrays:
            ds = getattr(self, split).with_format("numpy")
            inputs = np.asarray(ds["input"], dtype=np.float32).reshape(-1, *self.input_shape)
            self._arrays[split] = (inputs, np.asarray(ds["label"], dtype=np.int64))
        return self._arrays[split]


class DatasetScheme(ABC):
    """Turns the address part of ``scheme:address`` into :class:`DataSplits`."""

    Options: ClassVar[type[BaseModel]] = NoOptions

    def validate(self, address: str, options: BaseModel) -> None:
        """Cheap checks at suite-load time; raise ``UserInputError`` naming what is allowed."""

    @abstractmethod
    def load(self, address: str, options: BaseModel) -> DataSplits:
        """Load (or generate) the full train and test splits."""


class ModelFamily(ABC):
    """Builds networks of one family and exposes their layer maps and classifier head."""

    Options: ClassVar[type[BaseModel]] = NoOptions

    def validate(self, arch: str, options: BaseModel) -> None:
        """Cheap checks at suite-load time, e.g. that ``arch`` exists (close names on failure)."""

    @abstractmethod
    def build(
        self,
        arch: str,
        options: BaseModel,
        num_classes: int,
        input_shape: tuple[int, ...],
        pretrained: bool,
    ) -> Any:
        """A ``torch.nn.Module`` mapping prepared inputs to logits ``(batch, num_classes)``."""

    def prepare_inputs(self, module: Any, inputs: Any) -> Any:
        """Adapt a batch of dataset inputs ``(batch, *input_shape)`` to what the model takes."""
        return inputs

    @abstractmethod
    def layer_maps(self, module: Any, inputs: Any, indices: int | list[int] | None) -> list[Any]:
        """Representations x_0..x_L of prepared inputs, each ``(batch, ...)``, before pooling."""

    @abstractmethod
    def head(self, module: Any, last: Any) -> Any:
        """Logits ``(batch, num_classes)`` from the pooled last representation ``(batch, d)``."""


MODEL_FAMILIES: Registry[ModelFamily] = Registry("model family")
DATASET_SCHEMES: Registry[DatasetScheme] = Registry("dataset scheme")


def register_model_family(name: str):
    """Class decorator: register an instance of a :class:`ModelFamily` under ``name``."""

    def decorator(cls: type[ModelFamily]) -> type[ModelFamily]:
        MODEL_FAMILIES.register(name)(cls())
        return cls

    return decorator


def register_dataset_scheme(name: str):
    """Class decorator: register an instance of a :class:`DatasetScheme` under ``name``."""

    def decorator(cls: type[DatasetScheme]) -> type[DatasetScheme]:
        DATASET_SCHEMES.register(name)(cls())
        return cls

    return decorator
