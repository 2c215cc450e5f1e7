"""Stage 5: how faithful the surrogate is to the network on held-out data."""

from __future__ import annotations

from typing import Callable

import numpy as np

from harness.koopman import KoopmanAutoencoder, decode, encode, operator_power

Classifier = Callable[[np.ndarray], np.ndarray]
"""Maps preprocessed last-layer points ``(n, p)`` to predicted labels ``(n,)`` through the real head."""


def surrogate_last_layer(model: KoopmanAutoencoder, z0: np.ndarray, operator: np.ndarray | None = None) -> np.ndarray:
    """phi^-1(phi(z0) A) ``(n, p)``, with A = (K^k)^T unless an edited ``operator`` ``(m, m)`` is given."""
    operator = operator_power(model, model.k).T if operator is None else operator
    return decode(model, (encode(model, z0).astype(np.float64) @ operator).astype(np.float32))


def fraction_of_variance_unexplained(prediction: np.ndarray, target: np.ndarray) -> float:
    """sum ||prediction - target||^2 / sum ||target - mean(target)||^2 (0 is perfect)."""
    residual = np.sum((prediction - target) ** 2)
    total = np.sum((target - target.mean(axis=0)) ** 2)
    return float(residual / total) if total > 0 else float("nan")


def surrogate_fidelity(
    model: KoopmanAutoencoder,
    z_first: np.ndarray,
    z_last: np.ndarray,
    labels: np.ndarray,
    network_labels: np.ndarray,
    classify: Classifier,
) -> dict[str, float | list[float]]:
    """Held-out fidelity figures.

    Args:
        z_first, z_last: preprocessed held-out x_0 and x_L, ``(n, p)``.
        labels: true labels ``(n,)``; network_labels: the network's predictions ``(n,)``.

    Returns:
        surrogate_acc, agreement, fvu_recon, fvu_linear, fvu_state, spectral_radius,
        eigenvalues_real / eigenvalues_imag (K's eigenvalues, lists).
    """
    predicted_last = surrogate_last_layer(model, z_first)
    surrogate_labels = classify(predicted_last)
    phi_first, phi_last = encode(model, z_first), encode(model, z_last)
    advanced = phi_first.astype(np.float64) @ operator_power(model, model.k).T
    eigenvalues = np.linalg.eigvals(operator_power(model, 1))
    return {
        "surrogate_acc": float(np.mean(surrogate_labels == labels)),
        "agreement": float(np.mean(surrogate_labels == network_labels)),
        "fvu_recon": fraction_of_variance_unexplained(
            np.concatenate([decode(model, phi_first), decode(model, phi_last)]), np.concatenate([z_first, z_last])
        ),
        "fvu_linear": fraction_of_variance_unexplained(advanced, phi_last),
        "fvu_state": fraction_of_variance_unexplained(predicted_last, z_last),
        "spectral_radius": float(np.max(np.abs(eigenvalues))),
        "eigenvalues_real": eigenvalues.real.tolist(),
        "eigenvalues_imag": eigenvalues.imag.tolist(),
    }
