"""Adapters: model families and dataset schemes, each registered by one decorator.

``load_dataset(cfg)`` and ``build_network(cfg, ...)`` are the two factories the harness calls.
"""

from adapters import data, hf_models, resmlp, timm_models  # noqa: F401  (registration)
from adapters.base import (
    DATASET_SCHEMES,
    MODEL_FAMILIES,
    DataSplits,
    DatasetScheme,
    ModelFamily,
    register_dataset_scheme,
    register_model_family,
)

__all__ = [
    "DATASET_SCHEMES",
    "MODEL_FAMILIES",
    "DataSplits",
    "DatasetScheme",
    "ModelFamily",
    "register_dataset_scheme",
    "register_model_family",
]
