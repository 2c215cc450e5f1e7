"""The linear floor: closed-form DMD and EDMD surrogates of the map x_0 -> x_L.

Both are fitted on the preprocessed TRAINING layers of the cell (the same inputs as the KAE) and
read out through the same inverse preprocessing and real head, so their surrogate accuracy is
directly comparable with the KAE's. A KAE that does not beat them has learned nothing a least
squares fit could not.

- DMD: z_L ~ [z_0, 1] W, ridge least squares (one linear step from the first to the last layer).
- EDMD: the dictionary psi(z) = [z, exp(-||z - c_j||^2 / (2 s^2)) for RBF centres c_j, 1], the
  operator K = argmin ||psi(z_0) K - psi(z_L)||^2 + ridge ||K||^2 (least squares on the lifted
  dictionary) and the prediction read from the state block of psi(z_0) K (the first p columns).
  Centres: seeded k-means++ seeding on training z_0; width s: the median distance between centres.

The ridge of each is chosen by 5-fold cross-validation on the training data only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.config import LinearFloorConfig


@dataclass(frozen=True)
class LinearSurrogate:
    """A fitted DMD (``centres`` empty) or EDMD surrogate; ``predict(z0)`` gives z_L ``(n, p)``."""

    operator: np.ndarray  # (q, q') from dictionary of z_0 to dictionary (or state) of z_L
    centres: np.ndarray  # (r, p) RBF centres, r = 0 for DMD
    width: float
    p: int
    ridge: float

    def lift(self, z: np.ndarray) -> np.ndarray:
        """The dictionary psi(z) ``(n, q)``: state, RBF observables, constant."""
        z = np.asarray(z, dtype=np.float64)
        parts = [z]
        if len(self.centres):
            squared = ((z[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
            parts.append(np.exp(-squared / (2 * self.width**2)))
        parts.append(np.ones((len(z), 1)))
        return np.concatenate(parts, axis=1)

    def predict(self, z0: np.ndarray) -> np.ndarray:
        """Predicted last layer ``(n, p)`` (the state block of psi(z_0) K)."""
        return (self.lift(z0) @ self.operator)[:, : self.p].astype(np.float32)


def ridge_solve(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """argmin_B ||x B - y||^2 + ridge ||B||^2, ``(q, q')``."""
    gram = x.T @ x + ridge * np.eye(x.shape[1])
    return np.linalg.solve(gram, x.T @ y)


def _cross_validated_ridge(x: np.ndarray, y_state: np.ndarray, ridges: list[float], seed: int) -> float:
    """The ridge with the least 5-fold CV error of the state prediction (training data only)."""
    folds = np.array_split(np.random.default_rng(seed).permutation(len(x)), 5)
    errors = []
    for ridge in ridges:
        error = 0.0
        for fold in folds:
            train = np.setdiff1d(np.arange(len(x)), fold)
            coefficients = ridge_solve(x[train], y_state[train], ridge)
            error += float(np.sum((x[fold] @ coefficients - y_state[fold]) ** 2))
        errors.append(error)
    return float(ridges[int(np.argmin(errors))])


def kmeans_plus_plus(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means++ seeding (no Lloyd iterations): ``(min(k, n), p)`` well-spread centres."""
    rng = np.random.default_rng(seed)
    points = np.asarray(points, dtype=np.float64)
    k = min(k, len(points))
    centres = [points[rng.integers(len(points))]]
    squared = ((points - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        probabilities = squared / squared.sum() if squared.sum() > 0 else None
        centres.append(points[rng.choice(len(points), p=probabilities)])
        squared = np.minimum(squared, ((points - centres[-1]) ** 2).sum(axis=1))
    return np.stack(centres)


def fit_linear_surrogate(
    z0: np.ndarray, z_last: np.ndarray, kind: str, cfg: LinearFloorConfig, seed: int = 0
) -> LinearSurrogate:
    """Fit ``kind`` = ``"dmd"`` or ``"edmd"`` on training z_0, z_L ``(n, p)``."""
    z0, z_last = np.asarray(z0, dtype=np.float64), np.asarray(z_last, dtype=np.float64)
    p = z0.shape[1]
    centres, width = np.zeros((0, p)), 1.0
    if kind == "edmd":
        centres = kmeans_plus_plus(z0, cfg.rbf_centres, seed)
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2)[np.triu_indices(len(centres), 1)]
        width = float(np.median(gaps)) if len(gaps) else 1.0
    elif kind != "dmd":
        raise ValueError(f"unknown linear surrogate {kind!r}; expected 'dmd' or 'edmd'")
    shell = LinearSurrogate(np.zeros((0, 0)), centres, width, p, 0.0)
    lifted_first = shell.lift(z0)
    lifted_last = shell.lift(z_last) if kind == "edmd" else z_last
    ridge = _cross_validated_ridge(lifted_first, z_last, list(cfg.ridges), seed)
    return LinearSurrogate(ridge_solve(lifted_first, lifted_last, ridge), centres, width, p, ridge)
