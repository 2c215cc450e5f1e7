"""Stage 6: topological fidelity via Vietoris-Rips persistent homology.

Betti numbers at a scale epsilon: beta_d(eps) = number of dimension-d bars with
birth <= eps < death (essential bars have death = inf). The scales are chosen once per cell from
the data (:func:`scale_range`: multiples of a quantile of nearest-neighbour distances of the
preprocessed first layer) and used for every curve of that cell, network and surrogate alike.

Backends: ``ripser`` (default) and giotto-ph's ``ripser_parallel`` (``backend="giotto"``; an
optional extra under the AGPL-3 licence, imported only when asked for). Large point sets can be
reduced to ``n_perm`` greedy (farthest-point) landmarks; the covering radius (the largest distance
from any point to its nearest landmark) is returned with the diagrams.

Diagram distances (:func:`diagram_distances`): bottleneck and Wasserstein on the FINITE bars
(persim ignores infinite ones, with a warning), and the essential (infinite) bars compared as
counts, separately.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

Backend = Literal["ripser", "giotto"]

# ripser reports deaths in float32; a bar whose death equals the scale to float32 precision is dead.
_FLOAT32_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Diagrams:
    """Persistence diagrams of one point set: ``bars[d]`` is ``(n_bars, 2)`` (birth, death)."""

    bars: list[np.ndarray]
    n_points: int  # points the complex was built on (landmarks, when n_perm was used)
    covering_radius: float  # 0.0 when every point was used


def greedy_landmarks(points: np.ndarray, n_perm: int) -> tuple[np.ndarray, float]:
    """Farthest-point landmarks: ``(indices (n_perm,), covering radius)``; seeded by point 0.

    The covering radius is max over points of the distance to the nearest landmark, so every
    Rips diagram of the landmarks is within that radius of the full set's (in bottleneck distance,
    up to a factor 2).
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    if n_perm >= n:
        return np.arange(n), 0.0
    chosen = np.zeros(n_perm, dtype=np.int64)
    distance = np.linalg.norm(points - points[0], axis=1)
    for i in range(1, n_perm):
        chosen[i] = int(np.argmax(distance))
        distance = np.minimum(distance, np.linalg.norm(points - points[chosen[i]], axis=1))
    return chosen, float(distance.max())


def persistence(
    points: np.ndarray, maxdim: int = 0, n_perm: int | None = None, backend: Backend = "ripser"
) -> Diagrams:
    """Rips persistence of ``points`` ``(n, d)`` in dimensions 0..maxdim.

    Args:
        points: the point cloud.
        maxdim: highest homology dimension.
        n_perm: if set and smaller than n, use that many greedy landmarks (covering radius recorded).
        backend: ``"ripser"`` or ``"giotto"`` (giotto-ph, optional extra ``koopbench[giotto]``).
    """
    points = np.asarray(points, dtype=np.float64)
    radius = 0.0
    if n_perm is not None and n_perm < len(points):
        index, radius = greedy_landmarks(points, n_perm)
        points = points[index]
    if len(points) < 2:
        bars = [np.array([[0.0, np.inf]])[: len(points)]] + [np.zeros((0, 2))] * maxdim
        return Diagrams(bars, len(points), radius)
    if backend == "giotto":
        try:
            from gph import ripser_parallel
        except ImportError:
            raise ImportError("backend 'giotto' needs giotto-ph: pip install 'koopbench[giotto]'") from None
        dgms = ripser_parallel(points, maxdim=maxdim, n_threads=1)["dgms"]
    else:
        from ripser import ripser

        with warnings.catch_warnings():  # n points in R^n are a point cloud here, never a distance matrix
            warnings.filterwarnings("ignore", message="The input matrix is square")
            dgms = ripser(points, maxdim=maxdim)["dgms"]
    return Diagrams([np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in dgms], len(points), radius)


def persistence_diagrams(points: np.ndarray, maxdim: int = 0, n_perm: int | None = None) -> list[np.ndarray]:
    """Rips diagrams of ``points`` ``(n, d)``: one ``(bars, 2)`` array per dimension 0..maxdim."""
    return persistence(points, maxdim, n_perm).bars


def betti_at(diagram: np.ndarray, scale: float) -> int:
    """Bars of one diagram ``(bars, 2)`` alive at ``scale``: birth <= scale < death.

    Comparisons allow for ripser's float32 filtration values (relative 1e-6).
    """
    tolerance = _FLOAT32_TOLERANCE * max(1.0, abs(scale))
    return int(np.sum((diagram[:, 0] <= scale + tolerance) & (diagram[:, 1] > scale + tolerance)))


def betti_numbers(points: np.ndarray, scale: float, maxdim: int = 0) -> list[int]:
    """[beta_0, ..., beta_maxdim] of the Rips complex of ``points`` ``(n, d)`` at ``scale``."""
    return [betti_at(d, scale) for d in persistence_diagrams(points, maxdim)]


def betti_curve(diagrams: Diagrams, scales: list[float]) -> list[list[int]]:
    """``curve[dim][i]`` = beta_dim at ``scales[i]``."""
    return [[betti_at(bars, s) for s in scales] for bars in diagrams.bars]


def nearest_neighbour_distances(points: np.ndarray) -> np.ndarray:
    """Distance from each point ``(n, d)`` to its nearest other point, ``(n,)``."""
    from scipy.spatial import cKDTree

    distances, _ = cKDTree(points).query(points, k=2)
    return distances[:, 1]


def choose_scale(points: np.ndarray, quantile: float) -> float:
    """epsilon = ``quantile`` of the nearest-neighbour distances of ``points`` ``(n, d)``."""
    return float(np.quantile(nearest_neighbour_distances(points), quantile))


def scale_range(points: np.ndarray, quantile: float, factors: tuple[float, ...] | list[float]) -> list[float]:
    """The cell's scales: ``choose_scale(points, quantile) * f`` for each factor f (ascending)."""
    base = choose_scale(points, quantile)
    return [base * f for f in sorted(factors)]


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
    """Betti numbers at one scale of each point set (depths), pooled and per class.

    Returns:
        ``{"all": curve, "<class>": curve, ...}`` with ``curve[depth][dim]`` = beta_dim.
    """
    profile = topology_profile(point_sets, labels, [scale], maxdim, per_class)
    return {group: [[dims[0] for dims in per_depth.curve] for per_depth in depths] for group, depths in profile.items()}


@dataclass(frozen=True)
class DepthTopology:
    """One point set (a depth of one group): its diagrams and Betti curve over the cell's scales."""

    diagrams: Diagrams
    curve: list[list[int]]  # curve[dim][scale_index]


def class_groups(labels: np.ndarray, per_class: bool) -> dict[str, np.ndarray]:
    """Boolean masks: ``"all"`` and, if ``per_class``, one per label (keys are the label as text)."""
    groups = {"all": np.ones(len(labels), dtype=bool)}
    if per_class:
        groups.update({str(int(c)): labels == c for c in np.unique(labels)})
    return groups


def topology_profile(
    point_sets: list[np.ndarray],
    labels: np.ndarray,
    scales: list[float],
    maxdim: int = 0,
    per_class: bool = True,
    n_perm: int | None = None,
    backend: Backend = "ripser",
) -> dict[str, list[DepthTopology]]:
    """Diagrams and Betti curves of each point set (depths ``(n, d)``), pooled and per class.

    Returns:
        ``{group: [DepthTopology per depth]}``, groups as in :func:`class_groups`.
    """
    result: dict[str, list[DepthTopology]] = {}
    for group, mask in class_groups(labels, per_class).items():
        depths = []
        for points in point_sets:
            diagrams = persistence(np.asarray(points)[mask], maxdim, n_perm, backend)
            depths.append(DepthTopology(diagrams, betti_curve(diagrams, scales)))
        result[group] = depths
    return result


def most_persistent(bars: np.ndarray, limit: int) -> tuple[np.ndarray, float]:
    """The ``limit`` longest finite bars of ``bars`` ``(n, 2)`` and the persistence of the longest dropped one."""
    finite = bars[np.isfinite(bars[:, 1])]
    if len(finite) <= limit:
        return finite, 0.0
    order = np.argsort(finite[:, 1] - finite[:, 0])[::-1]
    dropped = finite[order[limit]]
    return finite[order[:limit]], float(dropped[1] - dropped[0])


def diagram_distances(
    first: list[np.ndarray], second: list[np.ndarray], max_bars: int | None = None
) -> list[dict[str, float | int]]:
    """Per dimension: bottleneck and Wasserstein distance of the finite bars, essential bar counts.

    persim drops infinite bars (with a warning); here they are removed first and compared as
    counts (``essential_first``, ``essential_second``), since no finite distance accounts for them.
    persim's bottleneck grows steeply with the number of bars (800 bars: ~4 s), so with
    ``max_bars`` it is computed on the ``max_bars`` most persistent finite bars of each diagram;
    dropping bars of persistence <= delta moves a diagram by at most delta / 2 in bottleneck
    distance, so the result is exact to ``bottleneck_error_bound`` (0 when nothing was dropped).
    The Wasserstein distance always uses every finite bar.
    """
    import persim

    out = []
    for a, b in zip(first, second):
        finite_a, finite_b = a[np.isfinite(a[:, 1])], b[np.isfinite(b[:, 1])]
        bound = 0.0
        if len(finite_a) == 0 and len(finite_b) == 0:
            bottleneck = wasserstein = 0.0
        else:
            top_a, top_b = finite_a, finite_b
            if max_bars is not None:
                (top_a, drop_a), (top_b, drop_b) = most_persistent(a, max_bars), most_persistent(b, max_bars)
                bound = (drop_a + drop_b) / 2
            bottleneck = float(persim.bottleneck(top_a, top_b))
            wasserstein = float(persim.wasserstein(finite_a, finite_b))
        out.append({
            "bottleneck": bottleneck,
            "wasserstein": wasserstein,
            "essential_first": int(np.sum(~np.isfinite(a[:, 1]))),
            "essential_second": int(np.sum(~np.isfinite(b[:, 1]))),
            "bottleneck_error_bound": bound,
        })
    return out


def curve_agreement(network: list[int], surrogate: list[int]) -> dict[str, float | bool]:
    """Summary of two Betti curves over matched depths (equal lengths).

    Returns:
        ``mean_abs_diff``; ``rank_corr`` (Spearman; NaN when a curve is constant, 1.0 when both
        are constant and equal); ``network_non_increasing`` / ``surrogate_non_increasing``;
        ``last_diff`` (surrogate minus network at the last depth).
    """
    from scipy.stats import spearmanr

    a, b = np.asarray(network, dtype=float), np.asarray(surrogate, dtype=float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        rank = 1.0 if np.array_equal(a, b) else float("nan")
    else:
        rank = float(spearmanr(a, b).statistic)
    return {
        "mean_abs_diff": float(np.mean(np.abs(a - b))),
        "rank_corr": rank,
        "network_non_increasing": is_non_increasing(network),
        "surrogate_non_increasing": is_non_increasing(surrogate),
        "last_diff": float(b[-1] - a[-1]),
    }
