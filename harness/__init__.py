"""koopbench: benchmark Koopman autoencoder surrogates of neural-network layer dynamics.

The stages of a cell (network, representations, preprocessing, koopman, fidelity, topology,
unlearning) live one per module in this package; :mod:`harness.cell` composes them,
:mod:`harness.runner` fans cells out over Ray, :mod:`harness.tracking` logs to MLflow and
:mod:`harness.store` owns the results files.
"""

__version__ = "0.1.0"
