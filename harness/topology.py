"""Stage 6: topological fidelity via Vietoris-Rips persistent homology (ripser).

Betti numbers at a fixed scale epsilon: beta_d(eps) = number of dimension-d bars with
birth <= eps < death (essential bars have death = inf). The scale is chosen once per cell from
the data (a quantile of nearest-neighbour distances of the preprocessed first layer) and used
for every curve of that cell, network and surrogate alike.
"""

from __future__ import annotations

import numpy as np


def persistence_diagrams(points: np.ndarray, maxdim: int = 0, n_perm: int | None = None) -> list[np.ndarray]:
    """Rips diagrams of ``points`` ``(n, d)``: one ``(bars, 2)`` array per dimension 0..maxdim."""
    from ripser import ripser

    if len(points) < 2:
        return [np.array([[0.0, np.inf]])[: len(points)]] + [np.zeros((0, 2))] * maxdim
    kwargs = {"n_perm": n_perm} if n_perm is not None and n_perm < len(points) else {}
    return list(ripser(np.asarray(points, dtype=np.float64), maxdim=maxdim, **kwargs)["dgms"])


def betti_at(diagram: np.ndarray, scale: float) -> int:
    """Bars of one diagram ``(bars, 2)`` alive at ``scale``: birth <= scale < death."""
    return int(np.sum((diagram[:, 0] <= scale) & (diagram[:, 1] > scale)))


def betti_numbers(points: np.ndarray, scale: float, maxdim: int = 0) -> list[int]:
    """[beta_0, ..., beta_maxdim] of the Rips complex of ``points`` ``(n, d)`` at ``scale``."""
    return [betti_at(d, scale) for d in persistence_diagrams(points, maxdim)]


def nearest_neighbour_distances(points: np.ndarray) -> np.ndarray:
    """Distance from each point ``(n, d)`` to its nearest other point, ``(n,)``."""
    from scipy.spatial import cKDTree

    distances, _ = cKDTree(points).query(points, k=2)
    return distances[:, 1]


def choose_scale(points: np.ndarray, quantile: float) -> float:
    """epsilon = ``quantile`` of the nearest-neighbour distances of ``points`` ``(n, d)``."""
    return float(np.quantile(nearest_neighbour_distances(points), quantile))


def seeded_sample(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted seeded subsample of ``min(size, n)`` indices out of ``n``."""
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def is_non_increasing(curve: list[int]) -> bool:
    """True if every value is <= the one before it (topological simplification)."""
    return all(b <= a for a, b in zip(curve, curve[1:]))


def betti_curves(
    point_sets: list[np.ndarray],
    labels: np.ndarray,
    scale: float,
    maxdim: int = 0,
    per_class: bool = True,
) -> dict[str, list[list[int]]]:
    """Betti numbers of each point set (depths), pooled and per class.

    Args:
        point_sets: ``depth`` arrays of shape ``(n, d)`` holding the same n points at each depth.
        labels: ``(n,)`` class of each point.

    Returns:
        ``{"all": curve, "<class>": curve, ...}`` with ``curve[depth][dim]`` = beta_dim.
    """
    groups = {"all": np.ones(len(labels), dtype=bool)}
    if per_class:
        groups.update({str(c): labels == c for c in np.unique(labels)})
    return {
        name: [betti_numbers(points[mask], scale, maxdim) for points in point_sets]
        for name, mask in groups.items()
    }
