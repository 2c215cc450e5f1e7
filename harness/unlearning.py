"""Stage 7: edits of the Koopman operator that forget one class, and the metrics of any unlearning.

Row-vector convention z' = z A with A = (K^T)^k. With H ``(h, m)`` the observables of the class
to forget, C ``(c, m)`` those of all other training points and T ``(h, m)`` the targets,
the constrained least squares (gamma-regularised, ROME/MEMIT-like) gives

    C0 = C^T C + gamma I,   A' = A + C0^-1 H^T (H C0^-1 H^T + gamma I)^-1 (T - H A)

and, by the push-through identity, A' = A + (H^T H + gamma C0)^-1 H^T (T - H A): an m x m
solve instead of an h x h one, the same A' to rounding.

Edits (all from TRAINING data; evaluated on held-out data by the caller):

- ``edit_shared``: every forget point gets one target, the advanced observable of the nearest
  retained neighbour of the first forget point (the paper's released code).
- ``edit_nearest``: each forget point's own nearest retained neighbour's advanced observable.
- ``edit_centroid``: the mean advanced observable of the class of that nearest neighbour.
- ``edit_reweighted`` (koopbench's own): centroid targets; gamma chosen from a grid on training
  data (forget-class training accuracy plus retained training accuracy lost); then a few
  re-solves in which the training points the edit still gets wrong (forget points still assigned
  their class, retained points whose prediction the edit changed) count ``factor`` times more.
  Row weights w enter as sqrt(w) on the rows of H, T and C, so every solve is the same closed form.

Metrics (:func:`unlearning_metrics`, :func:`probe_balanced_accuracy`) are shared by the surrogate
edits and by the network references of :mod:`harness.baselines`.
"""

from __future__ import annotations

from typing import Callable, Literal

import numpy as np
from scipy.spatial import cKDTree

TargetRule = Literal["shared", "nearest", "centroid"]
ObservableClassifier = Callable[[np.ndarray], np.ndarray]
"""Maps advanced observables ``(n, m)`` to predicted labels ``(n,)`` (decoder, then the real head)."""


def closed_form_edit(
    operator: np.ndarray,
    forget: np.ndarray,
    retain: np.ndarray,
    targets: np.ndarray,
    gamma: float,
    solve: Literal["pushthrough", "direct"] = "pushthrough",
) -> np.ndarray:
    """Edited operator A' ``(m, m)`` from A ``(m, m)``, H ``(h, m)``, C ``(c, m)``, T ``(h, m)``."""
    operator, forget, retain, targets = (np.asarray(a, dtype=np.float64) for a in (operator, forget, retain, targets))
    m = operator.shape[0]
    c0 = retain.T @ retain + gamma * np.eye(m)
    residual = targets - forget @ operator
    if solve == "direct":
        c0_inv_ht = np.linalg.solve(c0, forget.T)  # (m, h)
        inner = forget @ c0_inv_ht + gamma * np.eye(len(forget))
        return operator + c0_inv_ht @ np.linalg.solve(inner, residual)
    return operator + np.linalg.solve(forget.T @ forget + gamma * c0, forget.T @ residual)


def edit_targets(
    forget_obs: np.ndarray,
    retain_obs: np.ndarray,
    retain_labels: np.ndarray,
    operator: np.ndarray,
    rule: TargetRule,
) -> np.ndarray:
    """Targets T ``(h, m)``: advanced observables of retained points near each forget point.

    Nearness is Euclidean in observable space of x_0. ``shared``: every row is the target of
    the first forget point (the paper's code); ``nearest``: each row its own nearest retained
    neighbour's advanced observable; ``centroid``: the mean advanced observable of the class of
    that neighbour.
    """
    advanced = retain_obs.astype(np.float64) @ operator
    _, nearest = cKDTree(retain_obs).query(forget_obs, k=1)
    if rule == "shared":
        return np.repeat(advanced[nearest[:1]], len(forget_obs), axis=0)
    if rule == "nearest":
        return advanced[nearest]
    centroids = {c: advanced[retain_labels == c].mean(axis=0) for c in np.unique(retain_labels)}
    return np.stack([centroids[c] for c in retain_labels[nearest]])


def weighted_edit(
    operator: np.ndarray,
    forget: np.ndarray,
    retain: np.ndarray,
    targets: np.ndarray,
    gamma: float,
    forget_weights: np.ndarray,
    retain_weights: np.ndarray,
) -> np.ndarray:
    """:func:`closed_form_edit` with row weights: H^T W H, H^T W (T - H A) and C^T V C."""
    sqrt_f = np.sqrt(forget_weights)[:, None]
    return closed_form_edit(operator, forget * sqrt_f, retain * np.sqrt(retain_weights)[:, None],
                            targets * sqrt_f, gamma)


def _training_loss(
    edited: np.ndarray, observables: np.ndarray, labels: np.ndarray, forget_class: int,
    classify: ObservableClassifier, reference: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Forget-class training accuracy + retained training points whose prediction the edit changed;
    and the predictions."""
    predicted = classify(observables @ edited)
    forget = labels == forget_class
    changed = np.mean(predicted[~forget] != reference[~forget])
    return float(np.mean(predicted[forget] == forget_class) + changed), predicted


def reweighted_edit(
    operator: np.ndarray,
    observables: np.ndarray,
    labels: np.ndarray,
    forget_class: int,
    classify: ObservableClassifier,
    gammas: list[float],
    rounds: int,
    factor: float,
) -> tuple[np.ndarray, dict[str, float]]:
    """``edit_reweighted`` (module doc) on training observables ``(n, m)``; returns A' and its choices.

    Every choice (gamma, weights, which round to keep) is made on the training points only.
    """
    forget = labels == forget_class
    h, c = observables[forget], observables[~forget]
    targets = edit_targets(h, c, labels[~forget], operator, "centroid")
    reference = classify(observables @ operator)  # the unedited surrogate's training predictions
    w_forget, w_retain = np.ones(len(h)), np.ones(len(c))
    scored = [(_training_loss(closed_form_edit(operator, h, c, targets, g), observables, labels, forget_class,
                              classify, reference)[0], g) for g in gammas]
    best_loss, gamma = min(scored)
    best = closed_form_edit(operator, h, c, targets, gamma)
    best_round, current = 0, best
    for round_index in range(1, rounds + 1):
        _, predicted = _training_loss(current, observables, labels, forget_class, classify, reference)
        w_forget = w_forget * np.where(predicted[forget] == forget_class, factor, 1.0)
        w_retain = w_retain * np.where(predicted[~forget] != reference[~forget], factor, 1.0)
        current = weighted_edit(operator, h, c, targets, gamma, w_forget, w_retain)
        loss, _ = _training_loss(current, observables, labels, forget_class, classify, reference)
        if loss < best_loss:
            best_loss, best, best_round = loss, current, round_index
    return best, {"gamma": float(gamma), "rounds_kept": float(best_round), "train_loss": best_loss}


def surrogate_edit(
    method: str,
    operator: np.ndarray,
    observables: np.ndarray,
    labels: np.ndarray,
    forget_class: int,
    gamma: float,
    classify: ObservableClassifier,
    reweight: dict | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """The edited operator of one ``edit_*`` method from training observables ``(n, m)`` and labels."""
    if method == "edit_reweighted":
        return reweighted_edit(operator, observables, labels, forget_class, classify, **(reweight or {}))
    rule = method.removeprefix("edit_")
    forget = labels == forget_class
    targets = edit_targets(observables[forget], observables[~forget], labels[~forget], operator, rule)
    return closed_form_edit(operator, observables[forget], observables[~forget], targets, gamma), {"gamma": gamma}


def class_accuracies(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> list[float]:
    """Accuracy per class ``c`` over points labelled ``c`` (NaN for an absent class)."""
    return [float(np.mean(predicted[labels == c] == c)) if np.any(labels == c) else float("nan") for c in range(num_classes)]


def assignment_distribution(predicted: np.ndarray, labels: np.ndarray, forget_class: int, num_classes: int) -> np.ndarray:
    """Where the forget class's held-out points are classified: a distribution over classes."""
    forgotten = predicted[labels == forget_class]
    return np.bincount(forgotten, minlength=num_classes) / max(1, len(forgotten))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Total-variation distance 0.5 * sum |p - q| of two distributions."""
    return float(0.5 * np.sum(np.abs(np.asarray(p) - np.asarray(q))))


def edit_report(
    before: np.ndarray, after: np.ndarray, labels: np.ndarray, forget_class: int, num_classes: int
) -> dict[str, float | list[float]]:
    """Efficacy and collateral damage of an edit from held-out predictions before/after ``(n,)``."""
    retained = labels != forget_class
    acc_before, acc_after = class_accuracies(before, labels, num_classes), class_accuracies(after, labels, num_classes)
    drops = [b - a for c, (b, a) in enumerate(zip(acc_before, acc_after)) if c != forget_class and np.isfinite(b)]
    return {
        "forget_acc_before": float(np.mean(before[~retained] == forget_class)),
        "forget_acc_after": float(np.mean(after[~retained] == forget_class)),
        "retain_acc_before": float(np.mean(before[retained] == labels[retained])),
        "retain_acc_after": float(np.mean(after[retained] == labels[retained])),
        "retain_drop": float(np.mean(before[retained] == labels[retained]) - np.mean(after[retained] == labels[retained])),
        "worst_retain_drop": float(max(drops)) if drops else float("nan"),
        "class_acc_before": acc_before,
        "class_acc_after": acc_after,
        "forgotten_assigned_to": assignment_distribution(after, labels, forget_class, num_classes).tolist(),
    }


def unlearning_metrics(
    before: np.ndarray,
    after: np.ndarray,
    labels: np.ndarray,
    forget_class: int,
    num_classes: int,
    retrain_after: np.ndarray | None = None,
    mask_after: np.ndarray | None = None,
) -> dict[str, float | list[float]]:
    """:func:`edit_report` plus the comparisons with the references.

    Args:
        retrain_after: held-out predictions of the network retrained without the class.
        mask_after: held-out predictions of the logit-mask oracle.

    Returns:
        edit_report's keys, ``tv_to_retrain`` (TV distance between where this method and the
        retrained network send the forget class's points; NaN without a retrain) and
        ``mask_agreement`` (fraction of retained points predicted as the oracle predicts them).
    """
    report = edit_report(before, after, labels, forget_class, num_classes)
    retained = labels != forget_class
    report["tv_to_retrain"] = (
        float("nan") if retrain_after is None else total_variation(
            report["forgotten_assigned_to"], assignment_distribution(retrain_after, labels, forget_class, num_classes))
    )
    report["mask_agreement"] = float("nan") if mask_after is None else float(np.mean(after[retained] == mask_after[retained]))
    return report


def probe_balanced_accuracy(
    train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray, test_labels: np.ndarray,
    forget_class: int,
) -> float:
    """Linear recoverability of the forget class: balanced held-out accuracy of a linear probe.

    The probe (shrinkage LDA, equal priors; closed form, no tuning) separates the forget class
    from the rest on the TRAINING features ``(n, d)`` and is scored on the held-out ones. 0.5 is
    chance: the class is not linearly recoverable; near 1: it is.
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.metrics import balanced_accuracy_score

    y_train, y_test = train_labels == forget_class, test_labels == forget_class
    x_train, x_test = np.asarray(train_features, dtype=np.float64), np.asarray(test_features, dtype=np.float64)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    probe = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto", priors=[0.5, 0.5])
    probe.fit((x_train - mean) / std, y_train)
    return float(balanced_accuracy_score(y_test, probe.predict((x_test - mean) / std)))
