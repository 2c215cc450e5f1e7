"""Pre-flight of the topology stage: estimate time and memory, lower n to fit the suite's budget.

Persistent homology dominates a cell's cost and, unlike everything else, grows quadratically in
memory: ripser.py builds the dense n x n distance matrix in float64 and then its lower triangle
through two n x n index grids, so one call peaks at about 70 n^2 bytes (maxdim 0) and 90 n^2
bytes (maxdim >= 1), measured on this project's machine (n = 2000, 3000): 20,000 points at
maxdim 1 would ask for ~36 GB. Time is modelled as a_d n^2 + b_d n^3 (d = maxdim; the distance
matrix and the reduction), fitted here to runs at n = 300..3000 on 10-D points (within 35%).

The model's constants were measured on this machine; :func:`calibrate` rescales the time constant
with one small run on the cell's own points (after a warm-up run), so that estimates follow the machine and the data.
:func:`plan_topology` then finds the largest n (at most the requested one) whose whole topology
stage (every depth, pooled and per class) fits both budgets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

# Peak bytes per n^2 of one ripser.py call on dense input, by maxdim (measured: see module doc).
BYTES_PER_N2 = {0: 72.0, 1: 90.0, 2: 90.0}
# seconds ~ a n^2 + b n^3 for one ripser call on 10-D points, (a, b) by maxdim (fitted here;
# maxdim 2 from one run, 500 points in 20 s: expect it to be rougher).
TIME_TERMS = {0: (2.2e-7, 7.4e-11), 1: (7.5e-7, 8.5e-11), 2: (0.0, 1.6e-7)}
MIN_POINTS = 20
# The time model is good to about 35% here; plans aim at this fraction of the budget.
PLANNING_MARGIN = 0.75


@dataclass(frozen=True)
class Estimate:
    """Estimated wall seconds and peak extra bytes."""

    seconds: float
    bytes: float


def ripser_cost(n: int, dim: int, maxdim: int, n_perm: int | None = None, speed: float = 1.0) -> Estimate:
    """Estimate of one persistence call on ``n`` points in R^dim.

    Args:
        n_perm: landmarks (the complex is built on ``min(n, n_perm)`` points; the greedy choice
            costs n * n_perm distance evaluations).
        speed: multiplier of the time model from :func:`calibrate` (1.0 = this machine's model).
    """
    m = n if n_perm is None else min(n, n_perm)
    square, cube = TIME_TERMS[maxdim]
    seconds = square * m**2 + cube * m**3 + 2e-9 * n * m * dim * (m < n)
    peak = BYTES_PER_N2[maxdim] * m * m + (16.0 * n * dim if m < n else 0.0)
    return Estimate(speed * seconds, peak)


def distance_cost(n: int, maxdim: int, max_bars: int, n_perm: int | None = None, speed: float = 1.0) -> float:
    """Seconds of the diagram distances of one pooled pair: persim's bottleneck on at most ``max_bars``
    bars (~0.2 s at 400, measured here) and its Wasserstein (an assignment on (2n)^2: ~5e-11 (2n)^3 s)."""
    bars = n if n_perm is None else min(n, n_perm)
    return speed * (maxdim + 1) * (0.2 * (min(bars, max_bars) / 400) ** 2 + 5e-11 * (2 * bars) ** 3)


def stage_cost(
    n: int, dim: int, maxdim: int, n_depths: int, class_fractions: list[float], n_perm: int | None = None,
    speed: float = 1.0, n_distance_pairs: int = 0, max_bars: int = 400,
) -> Estimate:
    """The whole topology stage: ``n_depths`` point sets, each pooled and per class, and
    ``n_distance_pairs`` pooled diagram comparisons.

    Time adds up over calls; memory is the peak of the largest single call (calls run one at a time).
    """
    sizes = [n] + [max(1, int(round(n * f))) for f in class_fractions]
    costs = [ripser_cost(s, dim, maxdim, n_perm, speed) for s in sizes]
    seconds = n_depths * sum(c.seconds for c in costs) + n_distance_pairs * distance_cost(n, maxdim, max_bars, n_perm, speed)
    return Estimate(seconds, max(c.bytes for c in costs))


def calibrate(points: np.ndarray, maxdim: int, probe: int = 300, seed: int = 0) -> float:
    """Speed factor of the time model from one run on ``probe`` of ``points`` ``(n, d)``, never below 1.

    measured / modelled seconds, after a warm-up run. It only ever slows the model down: on a shared
    machine a short probe can land in a quiet moment that the long computation will not see.
    """
    from harness.topology import persistence, seeded_sample

    sample = np.asarray(points)[seeded_sample(len(points), probe, seed)]
    persistence(sample[:10], maxdim)  # warm-up: imports and first-call costs are not the model's
    start = time.perf_counter()
    persistence(sample, maxdim)
    measured = time.perf_counter() - start
    modelled = ripser_cost(len(sample), sample.shape[1], maxdim).seconds
    return max(measured / modelled, 1.0)


@dataclass(frozen=True)
class TopologyPlan:
    """What the pre-flight decided, recorded in the results."""

    n_requested: int
    n_used: int
    seconds_estimate: float
    bytes_estimate: float
    speed: float
    lowered: bool
    note: str


def plan_topology(
    n_requested: int,
    n_available: int,
    dim: int,
    maxdim: int,
    n_depths: int,
    class_fractions: list[float],
    budget_seconds: float,
    budget_bytes: float,
    n_perm: int | None = None,
    speed: float = 1.0,
    n_distance_pairs: int = 0,
    max_bars: int = 400,
) -> TopologyPlan:
    """The largest n <= min(requested, available) whose stage fits ``budget_seconds`` and ``budget_bytes``.

    Both are planned with :data:`PLANNING_MARGIN` (the estimate must fit 75% of each budget).
    """
    n_max = min(n_requested, n_available)

    def fits(n: int) -> bool:
        cost = stage_cost(n, dim, maxdim, n_depths, class_fractions, n_perm, speed, n_distance_pairs, max_bars)
        return cost.seconds <= PLANNING_MARGIN * budget_seconds and cost.bytes <= PLANNING_MARGIN * budget_bytes

    if fits(n_max):
        n_used = n_max
    else:
        low, high = min(MIN_POINTS, n_max), n_max  # fits(low) assumed; bisect the boundary
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        n_used = low
    cost = stage_cost(n_used, dim, maxdim, n_depths, class_fractions, n_perm, speed, n_distance_pairs, max_bars)
    lowered = n_used < n_max
    note = ""
    if lowered:
        full = stage_cost(n_max, dim, maxdim, n_depths, class_fractions, n_perm, speed, n_distance_pairs, max_bars)
        note = (f"pre-flight lowered n from {n_max} to {n_used}: {n_max} points would take ~{full.seconds:.0f} s "
                f"and ~{full.bytes / 2**30:.1f} GiB (budget {budget_seconds:.0f} s, {budget_bytes / 2**30:.1f} GiB)")
        if not fits(n_used):
            note += "; even the minimum exceeds the budget"
    return TopologyPlan(n_requested, n_used, cost.seconds, cost.bytes, speed, lowered, note)
