"""Known answers of the topology stage (issue 4): circles, blobs, scales, landmarks, diagram distances."""

import numpy as np
import pytest

from harness.topology import (
    betti_at,
    betti_curve,
    class_groups,
    curve_agreement,
    diagram_distances,
    greedy_landmarks,
    persistence,
    scale_range,
    topology_profile,
)


def circle(n: int, centre=(0.0, 0.0), radius: float = 1.0, seed: int = 0) -> np.ndarray:
    angles = np.sort(np.random.default_rng(seed).uniform(0, 2 * np.pi, n))
    return np.stack([centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)], axis=1)


def lattice_blobs(k: int, side: int = 5, gap: float = 100.0) -> np.ndarray:
    """k square lattices of side x side points, spacing 1, centres ``gap`` apart along a line."""
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2).astype(float)
    return np.concatenate([grid + [i * gap, 0.0] for i in range(k)])


def test_points_on_a_circle_have_one_loop():
    result = betti_curve(persistence(circle(60), maxdim=1), [0.5])
    expected = [[1], [1]]  # beta_0 = 1, beta_1 = 1
    assert result == expected


def test_two_disjoint_circles_have_two_components_and_two_loops():
    points = np.concatenate([circle(60, seed=1), circle(60, centre=(5.0, 0.0), seed=2)])
    result = betti_curve(persistence(points, maxdim=1), [0.5])
    assert result == [[2], [2]]


@pytest.mark.parametrize("k", [1, 3, 4])
def test_separated_blobs_have_k_components_across_the_recorded_scale_range(k):
    points = lattice_blobs(k)
    scales = scale_range(points, quantile=0.9, factors=[1.0, 2.0, 4.0, 8.0])  # the cell's default rule
    assert scales == pytest.approx([1.0, 2.0, 4.0, 8.0])
    result = betti_curve(persistence(points, maxdim=0), scales)[0]
    assert result == [k] * len(scales)


def test_random_blobs_have_k_components_between_their_largest_merge_and_their_gap():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(size=(80, 5)) * 0.1 + 20.0 * i for i in range(3)])
    bars = persistence(points).bars[0]
    within = np.sort(bars[:, 1])[-4]  # largest merge inside a blob (then two finite gaps, one essential)
    scales = np.linspace(within * 1.01, 20.0, 5).tolist()
    assert betti_curve(persistence(points), scales)[0] == [3] * 5


def test_a_death_equal_to_the_scale_in_float32_counts_as_dead():
    diagram = np.array([[0.0, np.float32(0.1)], [0.0, np.inf]])
    assert betti_at(diagram, 0.1) == 1


def test_identity_surrogate_has_zero_diagram_distance_and_equal_curves():
    points = np.concatenate([circle(40, seed=3), circle(40, centre=(4.0, 0.0), seed=4)])
    network = persistence(points, maxdim=1).bars
    surrogate = persistence(points.copy(), maxdim=1).bars
    for d in diagram_distances(network, surrogate):
        assert d["bottleneck"] == 0.0 and d["wasserstein"] == 0.0
        assert d["essential_first"] == d["essential_second"]
    curve = [30, 12, 5, 2, 2]
    assert curve_agreement(curve, curve) == {"mean_abs_diff": 0.0, "rank_corr": 1.0, "network_non_increasing": True,
                                             "surrogate_non_increasing": True, "last_diff": 0.0}


def test_essential_bars_are_counted_apart_from_the_finite_distance():
    one = [np.array([[0.0, 1.0], [0.0, np.inf]])]
    two = [np.array([[0.0, 1.0], [0.0, np.inf], [0.0, np.inf]])]
    result = diagram_distances(one, two)[0]  # no persim warning (warnings are errors here)
    assert result == {"bottleneck": 0.0, "wasserstein": 0.0, "essential_first": 1, "essential_second": 2,
                      "bottleneck_error_bound": 0.0}


def test_diagram_distance_of_a_shifted_bar():
    result = diagram_distances([np.array([[0.0, 1.0]])], [np.array([[0.0, 1.5]])])[0]
    # matched to each other the bars cost |1.5 - 1| = 0.5 (L-infinity); via the diagonal 0.75
    assert result["bottleneck"] == pytest.approx(0.5)
    assert result["wasserstein"] == pytest.approx(0.5)


def test_greedy_landmarks_record_the_covering_radius():
    points = np.linspace(0.0, 10.0, 101)[:, None]
    index, radius = greedy_landmarks(points, 3)
    assert sorted(points[index, 0].tolist()) == [0.0, 5.0, 10.0]
    assert radius == pytest.approx(2.5)
    result = persistence(np.concatenate([circle(300, seed=5)]), maxdim=1, n_perm=40)
    assert result.n_points == 40 and 0 < result.covering_radius < 0.2
    assert betti_curve(result, [0.5]) == [[1], [1]]  # the landmarks keep the loop


def test_profile_is_pooled_and_per_class():
    points = np.concatenate([circle(50, seed=6), circle(50, centre=(6.0, 0.0), seed=7)])
    labels = np.repeat([0, 1], 50)
    profile = topology_profile([points, points], labels, [0.5], maxdim=1)
    assert set(profile) == set(class_groups(labels, True)) == {"all", "0", "1"}
    assert [d.curve for d in profile["all"]] == [[[2], [2]]] * 2
    assert [d.curve for d in profile["1"]] == [[[1], [1]]] * 2


def test_giotto_backend_agrees_with_ripser():
    # `make test` installs the optional extra, so this runs in CI rather than skipping.
    points = circle(50, seed=8)
    assert betti_curve(persistence(points, 1, backend="giotto"), [0.5]) == betti_curve(persistence(points, 1), [0.5])


def test_bottleneck_on_the_most_persistent_bars_is_within_its_recorded_bound():
    rng = np.random.default_rng(9)
    def diagram(shift):
        births = rng.uniform(0, 1, 300)
        return np.c_[births, births + np.r_[rng.exponential(0.05, 297), [2.0, 3.0, 4.0 + shift]]]
    a, b = diagram(0.0), diagram(0.6)
    exact = diagram_distances([a], [b])[0]["bottleneck"]
    pruned = diagram_distances([a], [b], max_bars=20)[0]
    assert 0 < pruned["bottleneck_error_bound"] < 0.2
    assert abs(pruned["bottleneck"] - exact) <= pruned["bottleneck_error_bound"] + 1e-12
