"""Unlearning: the closed-form solves, every edit and every network reference on tiny separable
problems where the right answer is known (the forget class vanishes, the others keep their accuracy),
and the metrics' known answers."""

import numpy as np
import pytest

from adapters.data.synthetic import to_splits
from harness.baselines import fit_reference, mask_logits
from harness.config import ModelConfig, UnlearningConfig
from harness.network import family_of, obtain_network, predict_logits
from harness.unlearning import (
    closed_form_edit,
    probe_balanced_accuracy,
    surrogate_edit,
    total_variation,
    unlearning_metrics,
)

EDITS = ("edit_shared", "edit_nearest", "edit_centroid", "edit_reweighted")


def test_pushthrough_solve_equals_the_direct_one_to_1e9():
    rng = np.random.default_rng(0)
    operator, forget, retain, targets = rng.normal(size=(20, 20)), rng.normal(size=(700, 20)), rng.normal(
        size=(1400, 20)), rng.normal(size=(700, 20))
    for gamma in (0.1, 1.0):
        direct = closed_form_edit(operator, forget, retain, targets, gamma, solve="direct")
        pushthrough = closed_form_edit(operator, forget, retain, targets, gamma, solve="pushthrough")
        assert np.max(np.abs(direct - pushthrough)) < 1e-9


def separable_observables(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three tight classes around orthogonal directions of R^6: a linear A' can move one, keep two."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], n_per_class)
    centres = 5.0 * np.eye(6)[:3]
    return centres[labels] + 0.2 * rng.normal(size=(len(labels), 6)), labels


def nearest_centre_classifier(observables: np.ndarray, labels: np.ndarray):
    centres = np.stack([observables[labels == c].mean(axis=0) for c in range(3)])
    return lambda advanced: np.argmin(((advanced[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)


@pytest.mark.parametrize("method", EDITS)
def test_each_edit_makes_the_forget_class_vanish_and_keeps_the_others(method):
    train, y_train = separable_observables(60, seed=1)
    test, y_test = separable_observables(60, seed=2)
    classify = nearest_centre_classifier(train, y_train)  # the "head" on advanced observables, A = I
    operator = np.eye(6)
    edited, details = surrogate_edit(method, operator, train, y_train, 2, gamma=0.1, classify=classify,
                                     reweight={"gammas": [0.01, 0.1, 1.0], "rounds": 2, "factor": 4.0})
    before, after = classify(test @ operator), classify(test @ edited)
    metrics = unlearning_metrics(before, after, y_test, 2, 3)
    assert metrics["forget_acc_before"] == 1.0 and metrics["forget_acc_after"] == 0.0
    assert metrics["retain_acc_after"] == 1.0 and metrics["worst_retain_drop"] == 0.0
    if method == "edit_reweighted":
        assert details["gamma"] in (0.01, 0.1, 1.0)


def test_centroid_targets_send_the_forgotten_points_where_their_nearest_retained_class_is():
    train, y_train = separable_observables(60, seed=3)
    train[y_train == 2] += 4.0 * np.eye(6)[1]  # class 2 now lies nearer class 1 than class 0
    classify = nearest_centre_classifier(train, y_train)
    edited, _ = surrogate_edit("edit_centroid", np.eye(6), train, y_train, 2, 0.1, classify)
    assert np.all(classify(train[y_train == 2] @ edited) == 1)


def tiny_blobs(seed: int, n: int = 60):
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], n)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.5]])
    return (centres[labels] + 0.4 * rng.normal(size=(len(labels), 2))).astype(np.float32), labels


@pytest.fixture(scope="module")
def tiny_network():
    data = to_splits(tiny_blobs(0), tiny_blobs(1), ("a", "b", "c"))
    cfg = ModelConfig(name="resmlp", options={"width": 8, "depth": 1}, train={"epochs": 40, "lr": 0.02, "batch_size": 32})
    module, _ = obtain_network(cfg, data)
    return cfg, data, module


@pytest.mark.parametrize("method", ["retrain", "finetune", "ascent"])
def test_each_network_reference_makes_the_forget_class_vanish_and_keeps_the_others(tiny_network, method):
    cfg, data, module = tiny_network
    family = family_of(cfg)
    inputs, labels = data.arrays("test")
    before = np.argmax(predict_logits(family, module, inputs), axis=1)
    ucfg = UnlearningConfig(finetune_epochs=20, ascent_lr=1e-2)
    reference, info = fit_reference(method, cfg, family, module, data, 0, ucfg)
    after = np.argmax(predict_logits(family, reference, inputs), axis=1)
    metrics = unlearning_metrics(before, after, labels, 0, 3)
    assert metrics["forget_acc_before"] > 0.95
    assert metrics["forget_acc_after"] <= 0.05
    assert metrics["retain_acc_after"] >= 0.95
    assert info["seconds"] > 0


def test_logit_mask_oracle_forgets_for_free_and_changes_nothing_else():
    logits = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.0, 2.0], [2.0, 1.5, 0.0]])
    labels = np.array([0, 1, 2, 0])
    after = np.argmax(mask_logits(logits, 0), axis=1)
    metrics = unlearning_metrics(np.argmax(logits, axis=1), after, labels, 0, 3, mask_after=after)
    assert after.tolist() == [1, 1, 2, 1]
    assert metrics["forget_acc_after"] == 0.0 and metrics["retain_acc_after"] == 1.0
    assert metrics["mask_agreement"] == 1.0
    assert metrics["forgotten_assigned_to"] == [0.0, 1.0, 0.0]


def test_total_variation_to_the_retrained_network():
    labels = np.array([0, 0, 0, 0, 1, 2])
    method = np.array([1, 1, 2, 2, 1, 2])  # forgotten points: half to 1, half to 2
    retrain = np.array([1, 1, 1, 1, 1, 2])  # all to 1
    metrics = unlearning_metrics(method, method, labels, 0, 3, retrain_after=retrain)
    assert metrics["tv_to_retrain"] == pytest.approx(0.5)
    assert total_variation([0.2, 0.8], [0.2, 0.8]) == 0.0


def test_probe_finds_a_linearly_separable_class_and_not_an_erased_one():
    rng = np.random.default_rng(0)
    labels_train, labels_test = rng.integers(0, 3, 600), rng.integers(0, 3, 300)
    separable = lambda y, r: np.c_[3.0 * (y == 2), r.normal(size=(len(y), 4))]  # noqa: E731
    assert probe_balanced_accuracy(separable(labels_train, rng), labels_train, separable(labels_test, rng),
                                   labels_test, 2) == pytest.approx(1.0)
    erased = probe_balanced_accuracy(rng.normal(size=(600, 5)), labels_train, rng.normal(size=(300, 5)), labels_test, 2)
    assert abs(erased - 0.5) < 0.1
