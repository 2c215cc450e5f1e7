"""Statistics over seeds: 95% intervals for the leaderboard, Welch's t-test for regression verdicts.

Everything is vectorised over groups (numpy arrays of per-group summaries), so a report over
10,000 rows costs one call, not a Python loop per group.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import stats

Direction = Literal["higher", "lower", "none"]
Verdict = Literal["same", "improved", "regressed", "changed"]


def t_halfwidth(std: np.ndarray, n: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Half-width of the Student-t confidence interval of a mean: ``t_{(1+level)/2, n-1} * std / sqrt(n)``.

    Args:
        std: sample standard deviations (ddof=1), shape ``(g,)``, in the metric's units.
        n: sample sizes ``(g,)``; a group with ``n < 2`` has no interval (NaN).
        level: confidence level in (0, 1).

    Returns:
        Half-widths ``(g,)`` in the metric's units; NaN where ``n < 2`` or ``std`` is NaN.
    """
    std = np.asarray(std, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    out = np.full(std.shape, np.nan)
    ok = (n >= 2) & np.isfinite(std)
    out[ok] = stats.t.ppf(0.5 + level / 2, n[ok] - 1) * std[ok] / np.sqrt(n[ok])
    return out


def welch_p(
    mean_a: np.ndarray, std_a: np.ndarray, n_a: np.ndarray, mean_b: np.ndarray, std_b: np.ndarray, n_b: np.ndarray
) -> np.ndarray:
    """Two-sided p-value of Welch's unequal-variance t-test for ``mean_b - mean_a``, per group.

    Args:
        mean_a, std_a, n_a: base mean, sample std (ddof=1) and size, each ``(g,)``.
        mean_b, std_b, n_b: candidate, the same.

    Returns:
        p-values ``(g,)``. Special cases, stated rather than left to floating point:
        both samples without spread (std 0): p = 0 if the means differ, 1 if they are equal
        (a deterministic metric that moved has moved); one side with ``n < 2``: that side is given
        the other side's spread (seed noise belongs to the metric, not to the run), a one-sample
        t-test with ``n - 1`` degrees of freedom; both sides with ``n < 2``, or a NaN: NaN
        (untestable; the caller decides on tolerance alone).
    """
    mean_a, std_a, n_a, mean_b, std_b, n_b = (np.asarray(v, dtype=np.float64) for v in
                                              (mean_a, std_a, n_a, mean_b, std_b, n_b))
    delta = mean_b - mean_a
    std_a = np.where((n_a < 2) & (n_b >= 2), std_b, std_a)  # borrow the spread of the side that has one
    std_b = np.where((n_b < 2) & (n_a >= 2), std_a, std_b)
    va, vb = std_a**2 / np.maximum(n_a, 1), std_b**2 / np.maximum(n_b, 1)
    se2 = va + vb
    p = np.full(delta.shape, np.nan)
    testable = ((n_a >= 2) | (n_b >= 2)) & (n_a >= 1) & (n_b >= 1) & np.isfinite(delta) & np.isfinite(se2)
    flat = testable & (se2 == 0)
    p[flat] = np.where(delta[flat] == 0, 1.0, 0.0)
    spread = testable & (se2 > 0)
    t = np.abs(delta[spread]) / np.sqrt(se2[spread])
    with np.errstate(divide="ignore", invalid="ignore"):  # a borrowed side (n = 1) adds no degrees of freedom
        parts = np.where(n_a[spread] >= 2, va[spread] ** 2 / (n_a[spread] - 1), 0.0) + \
            np.where(n_b[spread] >= 2, vb[spread] ** 2 / (n_b[spread] - 1), 0.0)
        dof = np.where((n_a[spread] >= 2) & (n_b[spread] >= 2), se2[spread] ** 2 / parts,
                       np.maximum(n_a[spread], n_b[spread]) - 1)
    p[spread] = 2 * stats.t.sf(t, dof)
    return p


def tolerance_bound(abs_tol: np.ndarray, rel_tol: np.ndarray, base_mean: np.ndarray) -> np.ndarray:
    """The smallest change that counts: ``max(abs_tol, rel_tol * |base_mean|)``, in metric units, ``(g,)``."""
    return np.maximum(np.asarray(abs_tol, dtype=np.float64),
                      np.asarray(rel_tol, dtype=np.float64) * np.abs(np.asarray(base_mean, dtype=np.float64)))


def verdicts(
    delta: np.ndarray,
    base_mean: np.ndarray,
    p: np.ndarray,
    direction: list[Direction] | np.ndarray,
    abs_tol: np.ndarray,
    rel_tol: np.ndarray,
    alpha: float,
) -> list[Verdict]:
    """The verdict per (group, metric): has the candidate moved beyond noise, and which way.

    A change counts when BOTH hold:
      1. it exceeds the tolerance: ``|delta| > max(abs_tol, rel_tol * |base_mean|)``;
      2. it is beyond the seed noise: Welch ``p < alpha`` (when ``p`` is NaN, i.e. fewer than two
         seeds on a side, the tolerance alone decides).
    A counted change is "regressed" if it goes the worse way for the metric's direction
    (``higher``: a drop; ``lower``: a rise), "improved" the other way, "changed" for direction
    ``none``; otherwise "same". A NaN delta (metric missing on a side) is "same".

    Args:
        delta: ``candidate_mean - base_mean`` ``(g,)``; base_mean ``(g,)``; p ``(g,)``.
        direction: per entry, "higher" | "lower" | "none".
        abs_tol, rel_tol: tolerances ``(g,)`` (metric units; fraction of ``|base_mean|``).
        alpha: significance level of the t-test.
    """
    delta = np.asarray(delta, dtype=np.float64)
    bound = tolerance_bound(abs_tol, rel_tol, base_mean)
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        counted = np.isfinite(delta) & (np.abs(delta) > bound) & (np.isnan(p) | (p < alpha))
    sign = np.array([{"higher": 1.0, "lower": -1.0, "none": 0.0}[d] for d in direction])
    out: list[Verdict] = []
    for c, d, s in zip(counted, delta, sign):
        if not c:
            out.append("same")
        elif s == 0:
            out.append("changed")
        else:
            out.append("improved" if d * s > 0 else "regressed")
    return out
