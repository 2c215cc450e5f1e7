"""Dataset schemes: one module per scheme, each registered with ``register_dataset_scheme``."""

from adapters.data import hf_data, sklearn_data, synthetic  # noqa: F401  (registration)
