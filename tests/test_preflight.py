"""The topology pre-flight: its estimates against measured runs, and how it lowers n to a budget."""

import subprocess
import sys
import time

import numpy as np
import pytest

from harness.preflight import PLANNING_MARGIN, calibrate, plan_topology, ripser_cost, stage_cost
from harness.topology import persistence

GiB = 2**30


def plane_points(n: int, seed: int = 0) -> np.ndarray:
    """n points near a 2-D plane in R^10 (like preprocessed Yin-Yang layers)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) @ rng.normal(size=(2, 10)) + 0.05 * rng.normal(size=(n, 10))


def test_time_estimate_matches_a_measured_run_within_a_factor_of_three():
    points = plane_points(900)
    speed = calibrate(points, maxdim=1, probe=300)
    measured = float("inf")
    for _ in range(2):  # the quicker of two runs: other processes share this machine
        start = time.perf_counter()
        persistence(points, maxdim=1)
        measured = min(measured, time.perf_counter() - start)
    estimate = ripser_cost(900, 10, maxdim=1, speed=speed).seconds
    assert speed >= 1.0
    assert measured / 3 < estimate < measured * 3


def test_memory_estimate_matches_the_measured_peak_of_a_run():
    # A fresh process, its peak read from VmHWM (ru_maxrss would start at the forking parent's size).
    code = (
        "import re, numpy as np; from harness.topology import persistence\n"
        "def peak(): return int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) * 1024\n"
        "def rss(): return int(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) * 1024\n"
        "x = np.random.default_rng(0).normal(size=(1500, 10)); persistence(x[:20], maxdim=1)\n"
        # reset the high-water mark to the current size, so import-time peaks cannot hide the run's
        "open('/proc/self/clear_refs', 'w').write('5'); base = rss(); persistence(x, maxdim=1); print(peak() - base)"
    )
    measured = float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
    estimate = ripser_cost(1500, 10, maxdim=1).bytes
    assert measured / 2 < estimate < measured * 2


def test_a_cell_asking_for_20000_points_is_lowered_to_fit_its_budget():
    plan = plan_topology(20_000, 20_000, dim=10, maxdim=1, n_depths=12, class_fractions=[1 / 3] * 3,
                         budget_seconds=60.0, budget_bytes=2 * GiB)
    assert plan.lowered and plan.n_used < 20_000
    cost = stage_cost(plan.n_used, 10, 1, 12, [1 / 3] * 3)
    assert cost.seconds <= PLANNING_MARGIN * 60.0 and cost.bytes <= PLANNING_MARGIN * 2 * GiB
    too_many = stage_cost(plan.n_used + 1, 10, 1, 12, [1 / 3] * 3)
    assert too_many.seconds > PLANNING_MARGIN * 60.0 or too_many.bytes > PLANNING_MARGIN * 2 * GiB  # the largest
    assert "lowered n from 20000" in plan.note
    assert ripser_cost(20_000, 10, 1).bytes > 20 * GiB  # what it would have asked for


def test_a_request_that_fits_is_kept():
    plan = plan_topology(400, 1000, dim=10, maxdim=1, n_depths=6, class_fractions=[0.5, 0.5],
                         budget_seconds=300.0, budget_bytes=4 * GiB)
    assert (plan.n_used, plan.lowered, plan.note) == (400, False, "")


def test_landmarks_bound_the_cost_by_n_perm():
    full, landmarks = ripser_cost(20_000, 10, 1), ripser_cost(20_000, 10, 1, n_perm=300)
    assert landmarks.bytes < full.bytes / 1000 and landmarks.seconds < full.seconds / 100
