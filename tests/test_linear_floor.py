"""The DMD / EDMD linear floor: exact on linear maps, better than DMD on a nonlinear one."""

import numpy as np
import pytest

from harness.config import LinearFloorConfig
from harness.linear_floor import fit_linear_surrogate, kmeans_plus_plus


def test_dmd_recovers_an_affine_map_exactly():
    rng = np.random.default_rng(0)
    z0 = rng.normal(size=(300, 5))
    weights, bias = rng.normal(size=(5, 5)), rng.normal(size=5)
    fitted = fit_linear_surrogate(z0, z0 @ weights + bias, "dmd", LinearFloorConfig(), seed=0)
    held_out = rng.normal(size=(50, 5))
    np.testing.assert_allclose(fitted.predict(held_out), held_out @ weights + bias, atol=1e-3)
    assert fitted.ridge == 1e-6  # the CV picks the least ridge when the map is exactly linear


def test_edmd_beats_dmd_on_a_nonlinear_map_held_out():
    rng = np.random.default_rng(1)
    def nonlinear(z):
        return np.c_[np.sin(2 * z[:, 0]) * z[:, 1], z[:, 0] ** 2 - z[:, 1]]
    z0, held_out = rng.uniform(-1.5, 1.5, size=(600, 2)), rng.uniform(-1.5, 1.5, size=(200, 2))
    cfg = LinearFloorConfig(rbf_centres=60)
    errors = {kind: float(np.mean((fit_linear_surrogate(z0, nonlinear(z0), kind, cfg).predict(held_out)
                                   - nonlinear(held_out)) ** 2)) for kind in ("dmd", "edmd")}
    assert errors["edmd"] < 0.1 * errors["dmd"]


def test_identity_map_is_reproduced_by_both():
    z0 = np.random.default_rng(2).normal(size=(200, 3))
    for kind in ("dmd", "edmd"):
        np.testing.assert_allclose(fit_linear_surrogate(z0, z0, kind, LinearFloorConfig()).predict(z0), z0, atol=1e-3)


def test_centres_are_data_points_and_seeded():
    points = np.random.default_rng(3).normal(size=(100, 2))
    first, second = kmeans_plus_plus(points, 10, seed=4), kmeans_plus_plus(points, 10, seed=4)
    np.testing.assert_array_equal(first, second)
    assert all(any(np.array_equal(c, p) for p in points) for c in first)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="expected 'dmd' or 'edmd'"):
        fit_linear_surrogate(np.zeros((10, 2)), np.zeros((10, 2)), "koopman", LinearFloorConfig())
