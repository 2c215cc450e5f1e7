"""The metrics reports know: name, direction (which way is better), units, whether they gate CI.

A registry in the manner of timm's ``register_model``: ``METRICS.get("surrogate_acc")`` or an error
naming the known metrics. A metric that is not registered is still shown where it is a column, but
it has no direction and never regresses. :func:`with_derived` adds the per-cell metrics that reports
compute from the raw columns (retained drop, Betti gap, best edit, DMD margin), each only when its
inputs are present, so reports degrade gracefully on older or partial results files.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from harness.registry import Registry
from reports.stats import Direction


@dataclass(frozen=True)
class Metric:
    """One scalar per cell that reports aggregate over seeds and compare across runs.

    Attributes:
        name: column name in the (derived) results frame.
        direction: "higher" or "lower" is better; "none": no better side (shown, never regresses).
        label: short heading for tables and plots.
        unit: "fraction" (0..1), "count", "seconds" or "ratio".
        gate: whether ``koopbench compare`` lets it decide the exit code by default (wall times
            depend on the machine and the cache, so they are shown but do not gate unless asked).
        abs_tol: default tolerance in the metric's unit; a change must exceed it to count.
        noise_test: whether the seed spread decides (Welch's t-test); False: the tolerance alone
            (``ok_rate``: a cell that fails is not seed noise).
    """

    name: str
    direction: Direction
    label: str
    unit: str = "fraction"
    gate: bool = True
    abs_tol: float = 0.0
    noise_test: bool = True


METRICS: Registry[Metric] = Registry("metric")
ORDER: list[str] = []  # registration order = display order


def _register(*metrics: Metric) -> None:
    for metric in metrics:
        METRICS.register(metric.name)(metric)
        ORDER.append(metric.name)


_register(
    Metric("ok_rate", "higher", "cells ok", "fraction", abs_tol=0.0, noise_test=False),
    Metric("network_acc", "higher", "network acc", abs_tol=0.005),
    Metric("surrogate_acc", "higher", "surrogate acc", abs_tol=0.005),
    Metric("agreement", "higher", "agreement", abs_tol=0.005),
    Metric("dmd_acc", "higher", "DMD acc", abs_tol=0.005),
    Metric("edmd_acc", "higher", "EDMD acc", abs_tol=0.005),
    Metric("linear_floor_acc", "higher", "linear floor acc", abs_tol=0.005),
    Metric("kae_minus_floor", "higher", "KAE - floor acc", abs_tol=0.005),
    Metric("fvu_recon", "lower", "FVU recon", "ratio", abs_tol=0.01),
    Metric("fvu_linear", "lower", "FVU linear", "ratio", abs_tol=0.01),
    Metric("fvu_state", "lower", "FVU state", "ratio", abs_tol=0.01),
    Metric("spectral_radius", "none", "spectral radius", "ratio", abs_tol=0.01),
    Metric("betti0_gap", "lower", "beta0 gap", abs_tol=0.02),
    Metric("betti0_last_network", "none", "beta0 last (net)", "count", abs_tol=0.5),
    Metric("betti0_last_surrogate", "none", "beta0 last (KAE)", "count", abs_tol=0.5),
    Metric("forget_acc_after", "lower", "forget acc after", abs_tol=0.01),
    Metric("retain_drop", "lower", "retained drop", abs_tol=0.005),
    Metric("best_edit_forget_acc", "lower", "best-edit forget acc", abs_tol=0.01),
    Metric("best_edit_retain_drop", "lower", "best-edit retained drop", abs_tol=0.005),
    Metric("edit_seconds", "lower", "edit s", "seconds", gate=False),
    Metric("seconds", "lower", "cell s", "seconds", gate=False),
)

#: Unlearning methods that act on the real network (references), not edits of the surrogate;
#: "best edit" is chosen among the other methods. fnmatch patterns on ``unlearning.parquet``'s
#: ``method`` column.
REFERENCE_METHODS = ("retrain*", "fine*tune*", "finetune*", "*ascent*", "*mask*", "*oracle*")


def is_reference_method(method: str | None, acts_on: str | None = None) -> bool:
    """Whether an unlearning method is a reference on the real network rather than a surrogate edit:
    ``acts_on`` ("network" | "surrogate", the column of ``unlearning.parquet``) decides when given,
    otherwise the name is matched against :data:`REFERENCE_METHODS`."""
    if acts_on is not None:
        return acts_on != "surrogate"
    return method is not None and any(fnmatch.fnmatch(str(method), p) for p in REFERENCE_METHODS)


def metric_direction(name: str) -> Direction:
    """The registered direction of ``name``; "none" for an unregistered column."""
    return METRICS.get(name).direction if name in METRICS else "none"


def present(frame: pl.DataFrame, names: tuple[str, ...] | list[str] | None = None) -> list[str]:
    """Registered metric names (or ``names``) that are numeric columns of ``frame``, in registry order."""
    names = ORDER if names is None else names
    order = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
    return [n for n in order if n in frame.columns and frame.schema[n].is_numeric()]


def config_key(config: str | None, ignore: tuple[str, ...] = ()) -> str:
    """The matching key of a cell: its resolved config (JSON) without ``seed`` and ``ignore`` keys.

    Args:
        config: the ``config`` column (JSON of the resolved cell config).
        ignore: dotted paths to drop as well, e.g. ``("surrogate.epochs",)``.

    Returns:
        Canonical JSON (sorted keys), equal for cells that differ only in seed and ignored keys.
    """
    tree: Any = json.loads(config) if config else {}
    for path in ("seed", *ignore):
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    return json.dumps(tree, sort_keys=True)


def flat_config(config: str | None) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` of a config JSON (for naming differing keys)."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            out[prefix[:-1]] = node

    walk(json.loads(config) if config else {}, "")
    return out


def with_derived(results: pl.DataFrame, unlearning: pl.DataFrame | None = None) -> pl.DataFrame:
    """``results`` plus the derived per-cell metrics whose inputs are present.

    Added columns (each only when its inputs exist):
      - ``surrogate`` = "" if absent (older files);
      - ``ok_rate``: 1.0 for a cell with status "ok", 0.0 otherwise (the only metric over failed cells);
      - ``retain_drop`` = retain_acc_before - retain_acc_after (fraction; the headline edit);
      - ``betti0_gap``: mean over matched depths l of ``|b_net[l] - b_kae[l]| / max(b_net[l], b_kae[l], 1)``
        from ``betti0_network`` and ``betti0_surrogate_matched`` (0 = same Betti curve, 1 = disjoint);
      - ``kae_minus_floor`` = surrogate_acc - linear_floor_acc (margin over the better of DMD/EDMD;
        negative: the KAE does not beat the linear floor);
      - ``best_edit_method``, ``best_edit_forget_acc``, ``best_edit_retain_drop``: the best surrogate edit, see
        :func:`best_edit`; without a usable ``unlearning.parquet`` the headline edit's columns.

    Args:
        results: rows of ``results.parquet``, ``(cells, columns)``.
        unlearning: rows of ``unlearning.parquet`` (may be empty or None).
    """
    frame = results
    if "surrogate" not in frame.columns:
        frame = frame.with_columns(pl.lit("").alias("surrogate"))
    frame = frame.with_columns(pl.col("surrogate").fill_null(""),
                               (pl.col("status") == "ok").cast(pl.Float64).alias("ok_rate"))
    if {"retain_acc_before", "retain_acc_after"} <= set(frame.columns):
        frame = frame.with_columns((pl.col("retain_acc_before") - pl.col("retain_acc_after")).alias("retain_drop"))
    if {"betti0_network", "betti0_surrogate_matched"} <= set(frame.columns):
        frame = frame.with_columns(betti_gap(frame["betti0_network"], frame["betti0_surrogate_matched"]).alias("betti0_gap"))
    if {"surrogate_acc", "linear_floor_acc"} <= set(frame.columns):
        frame = frame.with_columns((pl.col("surrogate_acc") - pl.col("linear_floor_acc")).alias("kae_minus_floor"))
    return best_edit(frame, unlearning)


def betti_gap(network: pl.Series, surrogate: pl.Series) -> pl.Series:
    """Per row, mean over depths of ``|a - b| / max(a, b, 1)`` of two list columns of Betti numbers.

    Lists of different lengths are compared over their common prefix; an empty or null list gives
    null. Result in [0, 1] (0: identical curves).
    """
    index = pl.int_range(pl.len()).alias("_row")
    long = (
        pl.DataFrame({"a": network.cast(pl.List(pl.Float64)), "b": surrogate.cast(pl.List(pl.Float64))})
        .with_columns(index)
        .with_columns(pl.min_horizontal(pl.col("a").list.len().fill_null(0), pl.col("b").list.len().fill_null(0)).alias("_n"))
        .filter(pl.col("_n") > 0)
        .with_columns(pl.col("a").list.head(pl.col("_n")), pl.col("b").list.head(pl.col("_n")))
        .explode(["a", "b"])
        .group_by("_row", maintain_order=True)
        .agg(((pl.col("a") - pl.col("b")).abs() / pl.max_horizontal("a", "b", pl.lit(1.0))).mean().alias("gap"))
    )
    full = pl.DataFrame({"_row": range(len(network))}, schema={"_row": pl.Int64})
    return full.join(long.with_columns(pl.col("_row").cast(pl.Int64)), on="_row", how="left")["gap"]


def best_edit(frame: pl.DataFrame, unlearning: pl.DataFrame | None) -> pl.DataFrame:
    """Add ``best_edit_method``, ``best_edit_forget_acc`` and ``best_edit_retain_drop`` per cell.

    With an ``unlearning.parquet`` that has a ``method`` column: for each (dataset, model, surrogate)
    group, every surrogate edit (methods not matching :data:`REFERENCE_METHODS`) is scored by its mean
    over seeds and forgotten classes of ``forget_acc_after + max(retain drop, 0)`` (lower is better);
    the best method's per-cell means over forgotten classes become the columns. Choosing the method
    per group, not per seed, keeps the seed spread honest. Without such a table, the headline edit
    of ``results.parquet`` (``forget_acc_after``, ``retain_drop``) stands in, named by its ``edit_method``
    column ("headline" if absent).
    """
    usable = (unlearning is not None and unlearning.height and
              {"cell_id", "method", "forget_acc_after", "retain_acc_before", "retain_acc_after"} <= set(unlearning.columns))
    if usable:
        pairs = unlearning.select("method", pl.col("acts_on") if "acts_on" in unlearning.columns
                                  else pl.lit(None, pl.String).alias("acts_on")).unique().rows()
        edits = sorted({m for m, on in pairs if m is not None and not is_reference_method(m, on)})
        usable = bool(edits)
    if not usable:
        if "forget_acc_after" not in frame.columns:
            return frame
        headline = pl.col("edit_method").cast(pl.String) if "edit_method" in frame.columns else pl.lit("headline")
        return frame.with_columns(headline.alias("best_edit_method"),
                                  pl.col("forget_acc_after").alias("best_edit_forget_acc"),
                                  (pl.col("retain_drop") if "retain_drop" in frame.columns
                                   else pl.lit(None, pl.Float64)).alias("best_edit_retain_drop"))
    per_cell = (
        unlearning.filter(pl.col("method").is_in(edits))
        .with_columns((pl.col("retain_acc_before") - pl.col("retain_acc_after")).alias("_drop"))
        .group_by("cell_id", "method")
        .agg(pl.col("forget_acc_after").mean().alias("best_edit_forget_acc"), pl.col("_drop").mean().alias("best_edit_retain_drop"))
        .join(frame.select("cell_id", "dataset", "model", "surrogate"), on="cell_id", how="inner")
    )
    choice = (
        per_cell.group_by("dataset", "model", "surrogate", "method")
        .agg((pl.col("best_edit_forget_acc") + pl.col("best_edit_retain_drop").clip(lower_bound=0)).mean().alias("_score"))
        .sort("_score", "method")
        .group_by("dataset", "model", "surrogate", maintain_order=True)
        .first()
        .select("dataset", "model", "surrogate", pl.col("method").alias("best_edit_method"))
    )
    chosen = per_cell.join(choice, on=["dataset", "model", "surrogate"]).filter(pl.col("method") == pl.col("best_edit_method"))
    return frame.join(chosen.select("cell_id", "best_edit_method", "best_edit_forget_acc", "best_edit_retain_drop"), on="cell_id", how="left")
