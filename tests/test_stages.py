"""Known-answer tests for the stages of a cell (DESIGN.md section 2)."""

import numpy as np
import pytest

from harness.config import PreprocessConfig, SurrogateConfig
from harness.errors import UserInputError
from harness.koopman import LOSS_NAMES, layer_iterates, train_kae, triangular_lr
from harness.preprocessing import fit_preprocessor, procrustes_rotation
from harness.topology import betti_numbers, choose_scale, is_non_increasing
from harness.unlearning import closed_form_edit, edit_report


def test_preprocessing_round_trip_of_last_layer_within_1e5():
    rng = np.random.default_rng(0)
    layers = [rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6)) + 3.0 for _ in range(3)]
    pre = fit_preprocessor([x.astype(np.float32) for x in layers], PreprocessConfig(p=6, scale=100.0))
    result = pre.inverse_last(pre.transform(2, layers[2].astype(np.float32)))
    np.testing.assert_allclose(result, layers[2], atol=1e-5 * np.abs(layers[2]).max())


def test_preprocessing_scales_each_training_layer_to_the_configured_norm():
    rng = np.random.default_rng(1)
    layers = [rng.normal(size=(300, 8)).astype(np.float32) * s for s in (0.1, 10.0)]
    pre = fit_preprocessor(layers, PreprocessConfig(p=4, scale=100.0))
    for index, x in enumerate(layers):
        assert np.linalg.norm(pre.transform(index, x)) == pytest.approx(100.0, rel=1e-4)


def test_procrustes_recovers_a_known_rotation():
    rng = np.random.default_rng(2)
    source = rng.normal(size=(100, 5))
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    np.testing.assert_allclose(procrustes_rotation(source, source @ rotation), rotation, atol=1e-10)


def test_p_larger_than_a_layer_names_that_layer():
    layers = [np.zeros((50, 8), np.float32), np.zeros((50, 3), np.float32)]
    with pytest.raises(UserInputError, match="narrowest layer x_1"):
        fit_preprocessor(layers, PreprocessConfig(p=5))


@pytest.mark.parametrize("solve", ["pushthrough", "direct"])
def test_edit_maps_forget_observables_onto_their_targets(solve):
    rng = np.random.default_rng(3)
    m = 6
    operator = rng.normal(size=(m, m))
    forget = rng.normal(size=(3, m))
    retain = rng.normal(size=(40, m))
    targets = rng.normal(size=(3, m))
    edited = closed_form_edit(operator, forget, retain, targets, gamma=1e-8, solve=solve)
    np.testing.assert_allclose(forget @ edited, targets, atol=1e-5)


def test_pushthrough_and_direct_solves_agree():
    rng = np.random.default_rng(4)
    args = (rng.normal(size=(8, 8)), rng.normal(size=(30, 8)), rng.normal(size=(60, 8)), rng.normal(size=(30, 8)))
    np.testing.assert_allclose(
        closed_form_edit(*args, gamma=0.1, solve="pushthrough"), closed_form_edit(*args, gamma=0.1, solve="direct"), atol=1e-9
    )


def test_edit_report_counts_forgotten_and_retained_accuracy():
    labels = np.array([0, 0, 1, 1, 2, 2])
    before = np.array([0, 0, 1, 1, 2, 2])
    after = np.array([0, 1, 1, 1, 0, 0])
    report = edit_report(before, after, labels, forget_class=2, num_classes=3)
    assert report["forget_acc_before"] == 1.0 and report["forget_acc_after"] == 0.0
    assert report["retain_acc_after"] == 0.75
    assert report["class_acc_after"] == [0.5, 1.0, 0.0]
    assert report["forgotten_assigned_to"] == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("k", [1, 3, 5])
def test_beta0_of_k_separated_blobs_is_k_between_diameter_and_gap(k):
    rng = np.random.default_rng(k)
    centres = np.arange(k)[:, None] * np.array([[10.0, 0.0]])
    points = np.concatenate([c + rng.uniform(-0.5, 0.5, size=(30, 2)) for c in centres])
    # blob diameter <= sqrt(2) < 5 < gap (>= 9)
    assert betti_numbers(points, scale=5.0, maxdim=0) == [k]


def test_beta0_counts_every_point_below_the_smallest_distance():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    assert betti_numbers(points, scale=0.5) == [3]
    assert betti_numbers(points, scale=1.5) == [2]
    assert betti_numbers(points, scale=2.5) == [1]


def test_choose_scale_is_the_quantile_of_nearest_neighbour_distances():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])  # NN distances 1, 1, 2, 4
    assert choose_scale(points, 0.5) == pytest.approx(1.5)
    assert choose_scale(points, 1.0) == pytest.approx(4.0)


def test_non_increasing():
    assert is_non_increasing([5, 5, 3, 1])
    assert not is_non_increasing([5, 6, 3])


def test_triangular_lr_rises_then_decays_to_zero():
    values = [triangular_lr(step, 100, 0.2) for step in range(101)]
    assert values[0] == 0.0 and values[20] == 1.0 and values[100] == 0.0
    assert values[10] == pytest.approx(0.5) and values[60] == pytest.approx(0.5)


def test_layer_iterates_are_evenly_spaced_from_0_to_k():
    assert layer_iterates(6, 100) == [0, 20, 40, 60, 80, 100]


@pytest.mark.parametrize("alignment", ["endpoints", "all_layers"])
def test_kae_training_lowers_each_loss(alignment):
    rng = np.random.default_rng(5)
    first = rng.normal(size=(256, 4)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    layers = [first, (first @ rotation * 0.8).astype(np.float32), (first @ rotation @ rotation * 0.6).astype(np.float32)]
    cfg = SurrogateConfig(hidden=16, m=8, k=10, lr=0.01, epochs=150, batch_size=64, alignment=alignment)
    history = train_kae(layers, cfg, seed=0).history
    for name in LOSS_NAMES:
        assert history[name][-1] < history[name][0], name


def test_kae_training_is_deterministic_given_the_seed():
    rng = np.random.default_rng(6)
    layers = [rng.normal(size=(64, 3)).astype(np.float32) for _ in range(2)]
    cfg = SurrogateConfig(hidden=8, m=4, k=5, lr=0.01, epochs=5, batch_size=16)
    assert train_kae(layers, cfg, seed=3).history == train_kae(layers, cfg, seed=3).history
