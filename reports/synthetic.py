"""Seeded synthetic results frames in the shape of ``results.parquet``, for tests and benchmarks.

Not a model of real results: each (model, dataset, surrogate) group draws its metrics around
chosen centres with a chosen spread, so tests know the answer and benchmarks can go large.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl


def synthetic_results(
    models: int = 3,
    datasets: int = 1,
    surrogates: int = 1,
    seeds: int = 3,
    suite: str = "synthetic-suite",
    rng_seed: int = 0,
    spread: float = 0.01,
    shift: dict[str, float] | None = None,
    failed: int = 0,
    extra_config: dict | None = None,
) -> pl.DataFrame:
    """A results frame with one row per (model, dataset, surrogate, seed).

    Args:
        models, datasets, surrogates, seeds: sizes of the matrix (rows = their product).
        rng_seed: numpy seed; spread: standard deviation of every accuracy-like metric over seeds.
        shift: added to a metric's centre in every row, e.g. ``{"surrogate_acc": -0.05}``.
        failed: the first ``failed`` rows get status "failed", an error and null metrics.
        extra_config: merged into every row's ``config`` JSON (e.g. a changed epoch count).

    Returns:
        ``(models * datasets * surrogates * seeds, ~30)``: identity columns, ``config`` JSON, the
        scalar metrics of DESIGN.md section 3 and list columns (Betti curves, eigenvalues, per-class
        accuracies over 3 classes).
    """
    rng = np.random.default_rng(rng_seed)
    shift = shift or {}
    grid = [(m, d, s, seed) for d in range(datasets) for m in range(models) for s in range(surrogates) for seed in range(seeds)]
    n = len(grid)
    model_i = np.array([g[0] for g in grid])
    centre = {  # group m is better than group m + 1 on every scored metric
        "network_acc": 0.97 - 0.01 * model_i,
        "surrogate_acc": 0.95 - 0.02 * model_i,
        "agreement": 0.96 - 0.02 * model_i,
        "forget_acc_after": 0.05 + 0.05 * model_i,
        "retain_acc_before": 0.96 - 0.01 * model_i,
        "fvu_state": 0.02 + 0.01 * model_i,
    }
    values = {k: v + shift.get(k, 0.0) + rng.normal(0, spread, n) for k, v in centre.items()}
    retain_after = values["retain_acc_before"] - (0.01 + shift.get("retain_drop", 0.0) + rng.normal(0, spread / 2, n))
    layers = 6
    b_net = [list(np.maximum(1, np.round(np.geomspace(60, 2, layers) + rng.normal(0, 1, layers))).astype(int)) for _ in range(n)]
    b_sur = [list(np.maximum(1, np.array(b) + (m + 1))) for b, m in zip(b_net, model_i)]
    eig = [rng.normal(0, 0.5, 4) for _ in range(n)]
    rows = {
        "cell_id": [f"c{d}-{m}-{s}-{seed}" for m, d, s, seed in grid],
        "suite": [suite] * n,
        "model": [f"model{m}" for m, _, _, _ in grid],
        "dataset": [f"data{d}" for _, d, _, _ in grid],
        "seed": [seed for *_, seed in grid],
        "surrogate": [f"kae{s}" for _, _, s, _ in grid],
        "status": ["ok"] * n,
        "error": [None] * n,
        "harness_version": ["0.0.test"] * n,
        "config": [json.dumps({"suite": suite, "model": {"name": f"model{m}"}, "dataset": {"name": f"data{d}"},
                               "surrogate": {"label": f"kae{s}", "epochs": 40, **(extra_config or {})}, "seed": seed})
                   for m, d, s, seed in grid],
        **{k: v.tolist() for k, v in values.items()},
        "retain_acc_after": retain_after.tolist(),
        "forget_acc_before": (0.95 + rng.normal(0, spread, n)).tolist(),
        "forget_class": [2] * n,
        "class_acc_before": [[0.97, 0.96, 0.95]] * n,
        "class_acc_after": [[0.96, 0.95, float(f)] for f in values["forget_acc_after"]],
        "betti_iterates": [list(range(0, 11, 2))] * n,
        "betti_layer_iterates": [list(range(0, 11, 2))] * n,
        "betti0_network": b_net,
        "betti0_surrogate": b_sur,
        "betti0_surrogate_matched": b_sur,
        "eigenvalues_real": [e.tolist() for e in eig],
        "eigenvalues_imag": [(e[::-1] / 2).tolist() for e in eig],
        "spectral_radius": [float(np.max(np.abs(e))) for e in eig],
        "edit_seconds": rng.uniform(0.001, 0.002, n).tolist(),
        "seconds": rng.uniform(1, 2, n).tolist(),
    }
    frame = pl.DataFrame(rows, strict=False)
    if failed:
        metric_columns = [c for c in frame.columns if c not in
                          ("cell_id", "suite", "model", "dataset", "seed", "surrogate", "status", "error", "harness_version", "config")]
        is_failed = pl.int_range(pl.len()) < failed
        frame = frame.with_columns(
            pl.when(is_failed).then(pl.lit("failed")).otherwise(pl.col("status")).alias("status"),
            pl.when(is_failed).then(pl.lit("RuntimeError: synthetic failure")).otherwise(pl.col("error")).alias("error"),
            *[pl.when(is_failed).then(None).otherwise(pl.col(c)).alias(c) for c in metric_columns],
        )
    return frame
