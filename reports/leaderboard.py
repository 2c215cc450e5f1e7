"""The leaderboard: one line per (dataset, model, surrogate), mean and 95% interval over seeds.

Built from ``results.parquet`` (and ``unlearning.parquet`` where present) alone. Failed cells are
counted in the line they belong to (``failed``) and listed in full below the table, never
silently dropped.

Composite score (column ``score``, in [0, 1], higher is better), per line, the unweighted mean of
the parts whose columns the results have:

- ``agreement``: fraction of held-out points where surrogate and network predict the same class;
- ``1 - betti0_gap``: topological fidelity, where ``betti0_gap`` is the mean over the network's
  layers of ``|b_net - b_kae| / max(b_net, b_kae, 1)`` (beta_0 of layer l vs the decoded surrogate
  iterate matched to it);
- ``1 - best_edit_forget_acc``: efficacy of the best surrogate edit (held-out forget-class accuracy after it);
- ``1 - clip(best_edit_retain_drop, 0, 1)``: its collateral damage (drop of retained-class accuracy).

Each part uses the seed mean. Network accuracy is deliberately not a part: the leaderboard ranks
how linearisable and editable a network is, not how good a classifier. A line missing a part that
other lines have gets no score (ranked last) rather than a score on fewer parts. ``rank`` is the
dense rank of ``score`` within the dataset; every metric column ``m`` has ``m_rank``, the dense
rank within the dataset in the metric's better direction (1 = best; ties share a rank).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from reports.metrics import METRICS, metric_direction, present, with_derived
from reports.stats import t_halfwidth

GROUP = ["dataset", "model", "surrogate"]
LEADERBOARD_METRICS = (
    "network_acc", "surrogate_acc", "agreement", "linear_floor_acc", "kae_minus_floor", "fvu_state",
    "betti0_gap", "best_edit_forget_acc", "best_edit_retain_drop",
    "forget_acc_before", "forget_acc_after", "retain_acc_before", "retain_acc_after", "seconds",
)
#: (part name, column, transform of the seed mean into [0, 1], higher better); see the module doc.
SCORE_PARTS = (
    ("agreement", "agreement_mean", lambda c: c),
    ("topology", "betti0_gap_mean", lambda c: 1 - c),
    ("efficacy", "best_edit_forget_acc_mean", lambda c: 1 - c),
    ("collateral", "best_edit_retain_drop_mean", lambda c: 1 - c.clip(0, 1)),
)
#: Columns shown in the Markdown table, in order (those present).
SHOWN = ("network_acc", "surrogate_acc", "agreement", "linear_floor_acc", "betti0_gap",
         "best_edit_forget_acc", "best_edit_retain_drop", "seconds")


def build_leaderboard(results: pl.DataFrame, unlearning: pl.DataFrame | None = None) -> pl.DataFrame:
    """Aggregate over seeds, rank, and score.

    Args:
        results: rows of ``results.parquet`` (any number of runs concatenated), ``(cells, columns)``.
        unlearning: rows of ``unlearning.parquet`` (optional; enables the best-edit choice).

    Returns:
        One row per (dataset, model, surrogate), sorted by dataset then rank, with ``seeds`` (ok
        cells), ``failed``, ``score``, ``rank``, ``best_edit_method`` (if known) and, for every
        leaderboard metric present, ``<m>_mean``, ``<m>_std`` (ddof=1), ``<m>_ci95`` (half-width
        of the Student-t 95% interval; null with fewer than 2 seeds) and ``<m>_rank``.
    """
    frame = with_derived(results, unlearning)
    metrics = present(frame, LEADERBOARD_METRICS)
    ok = pl.col("status") == "ok"
    aggregations = [ok.sum().alias("seeds"), (~ok).sum().alias("failed")]
    if "best_edit_method" in frame.columns:
        aggregations.append(pl.col("best_edit_method").filter(ok).drop_nulls().first().alias("best_edit_method"))
    for metric in metrics:
        values = pl.col(metric).filter(ok & pl.col(metric).is_not_null() & pl.col(metric).is_not_nan())
        aggregations += [values.mean().alias(f"{metric}_mean"), values.std().alias(f"{metric}_std"),
                         values.count().alias(f"_{metric}_n")]
    board = frame.group_by(GROUP).agg(aggregations)
    board = board.with_columns(
        pl.Series(f"{m}_ci95", t_halfwidth(board[f"{m}_std"].to_numpy(), board[f"_{m}_n"].to_numpy()),
                  dtype=pl.Float64).fill_nan(None)
        for m in metrics
    ).drop([f"_{m}_n" for m in metrics])
    ranks = []
    for metric in metrics:
        direction = metric_direction(metric)
        if direction != "none":
            ranks.append(pl.col(f"{metric}_mean").rank("dense", descending=direction == "higher")
                         .over("dataset").cast(pl.Int64).alias(f"{metric}_rank"))
    board = board.with_columns(ranks)
    parts = [transform(pl.col(column)) for _, column, transform in SCORE_PARTS if column in board.columns]
    score = pl.mean_horizontal(parts) if parts else pl.lit(None, pl.Float64)
    if parts:  # null if any part is null: no score on fewer parts than the others
        score = pl.when(pl.all_horizontal([p.is_not_null() for p in parts])).then(score)
    board = board.with_columns(score.cast(pl.Float64).alias("score"))
    board = board.with_columns(pl.col("score").rank("dense", descending=True).over("dataset").cast(pl.Int64).alias("rank"))
    front = [*GROUP, "rank", "score", "seeds", "failed"] + (["best_edit_method"] if "best_edit_method" in board.columns else [])
    rest = [f"{m}_{s}" for m in metrics for s in ("mean", "std", "ci95", "rank") if f"{m}_{s}" in board.columns]
    return board.select(front + rest).sort(["dataset", "rank", "model", "surrogate"], nulls_last=True)


def score_parts(board: pl.DataFrame) -> list[str]:
    """Names of the composite score's parts that ``board`` has (see the module docstring)."""
    return [name for name, column, _ in SCORE_PARTS if column in board.columns]


def failed_cells(results: pl.DataFrame) -> pl.DataFrame:
    """The failed rows: which cell, and its error."""
    columns = [c for c in ("cell_id", *GROUP, "seed", "error") if c in results.columns]
    return results.filter(pl.col("status") != "ok").select(columns).sort(columns[:-1])


def to_markdown(frame: pl.DataFrame, float_digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table of ``frame``."""
    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return "nan" if np.isnan(value) else f"{value:.{float_digits}f}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines)


def _fmt(mean: float | None, ci: float | None, rank: int | None, digits: int) -> str:
    if mean is None or np.isnan(mean):
        return ""
    text = f"{mean:.{digits}f}" + (f" ± {ci:.{digits}f}" if ci is not None and not np.isnan(ci) else "")
    return text + (f" ({rank})" if rank is not None else "")


def display_table(board: pl.DataFrame, digits: int = 3) -> pl.DataFrame:
    """The leaderboard for reading: ``mean ± ci95 (rank)`` strings for the shown metrics.

    Returns:
        One row per board line: rank, model, surrogate, seeds, failed, score, edit method (if
        any) and one string column per shown metric, headed by the metric's label.
    """
    shown = [m for m in SHOWN if f"{m}_mean" in board.columns]
    columns = {"rank": board["rank"], "model": board["model"], "surrogate": board["surrogate"],
               "seeds": board["seeds"], "failed": board["failed"],
               "score": [None if s is None else f"{s:.3f}" for s in board["score"].to_list()]}
    if "best_edit_method" in board.columns:
        columns["best edit"] = board["best_edit_method"]
    for metric in shown:
        digits_m = 1 if metric == "seconds" else digits
        ranks = board[f"{metric}_rank"].to_list() if f"{metric}_rank" in board.columns else [None] * board.height
        columns[METRICS.get(metric).label if metric in METRICS else metric] = [
            _fmt(m, c, r, digits_m) for m, c, r in zip(board[f"{metric}_mean"].to_list(),
                                                       board[f"{metric}_ci95"].to_list(), ranks)]
    return pl.DataFrame(columns, strict=False)


def leaderboard_markdown(results: pl.DataFrame, board: pl.DataFrame) -> str:
    """The full Markdown leaderboard: a section per dataset, then the failed cells."""
    suites = ", ".join(sorted(set(results["suite"].drop_nulls().to_list()))) if "suite" in results.columns else ""
    parts = score_parts(board)
    text = [f"# koopbench leaderboard: {suites}", "",
            "Held-out figures, mean ± 95% interval over seeds (Student t), (dense rank per column within the "
            f"dataset). score = mean of {', '.join(parts) or 'nothing (no parts available)'} in [0, 1], "
            "higher is better (see reports/leaderboard.py).", ""]
    for dataset in board["dataset"].unique(maintain_order=True).to_list():
        text += [f"## {dataset}", "", to_markdown(display_table(board.filter(pl.col("dataset") == dataset))), ""]
    failed = failed_cells(results)
    if failed.height:
        text += [f"## Failed cells ({failed.height})", "", to_markdown(failed), ""]
    return "\n".join(text)


def write_leaderboard(results: pl.DataFrame, out_dir: str | Path, unlearning: pl.DataFrame | None = None) -> list[Path]:
    """Write ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.parquet`` into ``out_dir``.

    Returns:
        Their paths, the Markdown first.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    board = build_leaderboard(results, unlearning)
    md, csv, parquet = out_dir / "leaderboard.md", out_dir / "leaderboard.csv", out_dir / "leaderboard.parquet"
    md.write_text(leaderboard_markdown(results, board))
    board.write_csv(csv)
    board.write_parquet(parquet)
    return [md, csv, parquet]
