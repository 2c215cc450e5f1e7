"""Statistics of the reports on constructed inputs with known answers (issue 5)."""

import numpy as np
import pytest
from scipy import stats as sps

from reports.stats import t_halfwidth, tolerance_bound, verdicts, welch_p


def _summary(x):
    x = np.asarray(x, dtype=float)
    return np.array([x.mean()]), np.array([x.std(ddof=1)]), np.array([len(x)])


def _verdict(base, cand, direction="higher", abs_tol=0.0, rel_tol=0.0, alpha=0.05):
    mb, sb, nb = _summary(base)
    mc, sc, nc = _summary(cand)
    p = welch_p(mb, sb, nb, mc, sc, nc)
    return verdicts(mc - mb, mb, p, [direction], np.array([abs_tol]), np.array([rel_tol]), alpha)[0], float(p[0])


def test_t_halfwidth_matches_the_t_table():
    result = t_halfwidth(np.array([1.0, 2.0, 1.0]), np.array([2, 5, 1]))
    expected = [12.7062047 / np.sqrt(2), 2.7764451 * 2 / np.sqrt(5)]
    np.testing.assert_allclose(result[:2], expected, rtol=1e-6)
    assert np.isnan(result[2])  # one seed: no interval


def test_welch_p_equals_scipy_on_raw_samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 5), rng.normal(0.5, 2, 7)
    expected = sps.ttest_ind(a, b, equal_var=False).pvalue
    result = welch_p(*_summary(a), *_summary(b))[0]
    assert result == pytest.approx(expected, rel=1e-10)


def test_identical_runs_are_the_same():
    base = [0.91, 0.93, 0.92]
    assert _verdict(base, list(base)) == ("same", 1.0)


def test_identical_deterministic_values_are_the_same():
    assert _verdict([0.95] * 3, [0.95] * 3) == ("same", 1.0)


def test_deterministic_value_that_moved_beyond_tolerance_counts():
    verdict, p = _verdict([0.95] * 3, [0.90] * 3, abs_tol=0.01)
    assert verdict == "regressed"
    assert p < 1e-12
    exact = welch_p(np.array([1.0]), np.array([0.0]), np.array([3]), np.array([2.0]), np.array([0.0]), np.array([3]))
    assert exact[0] == 0.0  # no spread at all: a moved mean has moved


def test_shift_of_five_standard_deviations_regresses_in_the_worse_direction():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, 5)
    noise = (noise - noise.mean()) / noise.std(ddof=1)  # exactly sd 1
    base = 0.9 + 0.01 * noise
    assert _verdict(base, base - 0.05)[0] == "regressed"          # higher is better: a drop
    assert _verdict(base, base + 0.05)[0] == "improved"
    assert _verdict(base, base + 0.05, direction="lower")[0] == "regressed"  # lower is better: a rise
    assert _verdict(base, base - 0.05, direction="none")[0] == "changed"


def test_shift_within_noise_is_the_same():
    rng = np.random.default_rng(2)
    base, cand = 0.9 + rng.normal(0, 0.01, 5), 0.9 + rng.normal(0, 0.01, 5) - 0.003
    verdict, p = _verdict(base, cand)
    assert p > 0.05
    assert verdict == "same"


def test_significant_change_inside_tolerance_is_the_same():
    base = np.array([0.900, 0.901, 0.899])
    verdict, p = _verdict(base, base - 0.004, abs_tol=0.005)
    assert p < 0.01
    assert verdict == "same"


def test_relative_tolerance_scales_with_the_base_mean():
    np.testing.assert_allclose(tolerance_bound([0.01, 0.01], [0.1, 0.1], [0.05, 2.0]), [0.01, 0.2])


def test_single_seed_falls_back_to_tolerance_alone():
    p = welch_p(np.array([0.9]), np.array([np.nan]), np.array([1]), np.array([0.8]), np.array([np.nan]), np.array([1]))
    assert np.isnan(p[0])
    assert verdicts(np.array([-0.1]), np.array([0.9]), p, ["higher"], np.array([0.05]), np.array([0.0]), 0.05) == ["regressed"]
    assert verdicts(np.array([-0.01]), np.array([0.9]), p, ["higher"], np.array([0.05]), np.array([0.0]), 0.05) == ["same"]


def test_one_seed_side_borrows_the_other_sides_spread():
    base = np.array([0.90, 0.91, 0.89, 0.90])
    mb, sb, nb = _summary(base)
    near = welch_p(mb, sb, nb, np.array([0.905]), np.array([np.nan]), np.array([1]))[0]
    far = welch_p(mb, sb, nb, np.array([0.80]), np.array([np.nan]), np.array([1]))[0]
    expected = 2 * sps.t.sf(0.10 / np.sqrt(sb[0] ** 2 / 4 + sb[0] ** 2), 3)
    assert near > 0.5
    assert far == pytest.approx(expected)
