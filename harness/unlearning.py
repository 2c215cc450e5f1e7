"""Stage 7: the paper's closed-form edit of the Koopman operator to forget one class.

Row-vector convention z' = z A with A = (K^T)^k. With H ``(h, m)`` the observables of the class
to forget, C ``(c, m)`` those of all other training points and T ``(h, m)`` the targets,
the constrained least squares (gamma-regularised, ROME/MEMIT-like) gives

    C0 = C^T C + gamma I,   A' = A + C0^-1 H^T (H C0^-1 H^T + gamma I)^-1 (T - H A)

and, by the push-through identity, A' = A + (H^T H + gamma C0)^-1 H^T (T - H A): an m x m
solve instead of an h x h one, the same A' to rounding.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.spatial import cKDTree

TargetRule = Literal["shared", "nearest", "centroid"]


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


def class_accuracies(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> list[float]:
    """Accuracy per class ``c`` over points labelled ``c`` (NaN for an absent class)."""
    return [float(np.mean(predicted[labels == c] == c)) if np.any(labels == c) else float("nan") for c in range(num_classes)]


def edit_report(
    before: np.ndarray, after: np.ndarray, labels: np.ndarray, forget_class: int, num_classes: int
) -> dict[str, float | list[float]]:
    """Efficacy and collateral damage of an edit from held-out predictions before/after ``(n,)``."""
    retained = labels != forget_class
    forgotten_to = np.bincount(after[~retained], minlength=num_classes) / max(1, int(np.sum(~retained)))
    return {
        "forget_acc_before": float(np.mean(before[~retained] == forget_class)),
        "forget_acc_after": float(np.mean(after[~retained] == forget_class)),
        "retain_acc_before": float(np.mean(before[retained] == labels[retained])),
        "retain_acc_after": float(np.mean(after[retained] == labels[retained])),
        "class_acc_before": class_accuracies(before, labels, num_classes),
        "class_acc_after": class_accuracies(after, labels, num_classes),
        "forgotten_assigned_to": forgotten_to.tolist(),
    }
