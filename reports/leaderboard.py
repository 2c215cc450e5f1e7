"""The leaderboard: one line per (dataset, model, surrogate), mean and spread over seeds.

Built from ``results.parquet`` alone. Failed cells are counted in the line they belong to and
listed in full below the table, never silently dropped.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

GROUP = ["dataset", "model", "surrogate"]
HEADLINE = (
    "network_acc",
    "surrogate_acc",
    "agreement",
    "forget_acc_before",
    "forget_acc_after",
    "retain_acc_before",
    "retain_acc_after",
    "seconds",
)


def build_leaderboard(results: pl.DataFrame) -> pl.DataFrame:
    """Mean and standard deviation over seeds of the headline metrics, per group.

    Args:
        results: rows of ``results.parquet`` (any number of runs concatenated).

    Returns:
        One row per (dataset, model, surrogate) with ``seeds`` (ok cells), ``failed`` and
        ``<metric>_mean`` / ``<metric>_std`` for every headline metric present.
    """
    if "surrogate" not in results.columns:
        results = results.with_columns(pl.lit("").alias("surrogate"))
    metrics = [m for m in HEADLINE if m in results.columns]
    ok = pl.col("status") == "ok"
    aggregations = [ok.sum().alias("seeds"), (~ok).sum().alias("failed")]
    for metric in metrics:
        aggregations += [
            pl.col(metric).filter(ok).mean().alias(f"{metric}_mean"),
            pl.col(metric).filter(ok).std().alias(f"{metric}_std"),
        ]
    return results.group_by(GROUP).agg(aggregations).sort(GROUP)


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
            return f"{value:.{float_digits}f}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines)


def write_leaderboard(results: pl.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write ``leaderboard.md`` and ``leaderboard.csv`` into ``out_dir``; their paths."""
    out_dir = Path(out_dir)
    board = build_leaderboard(results)
    failed = failed_cells(results)
    suites = ", ".join(sorted(set(results["suite"].to_list()))) if "suite" in results.columns else ""
    text = [f"# koopbench leaderboard: {suites}", "", "Mean and standard deviation over seeds (held-out data).", "",
            to_markdown(board), ""]
    if failed.height:
        text += [f"## Failed cells ({failed.height})", "", to_markdown(failed), ""]
    md, csv = out_dir / "leaderboard.md", out_dir / "leaderboard.csv"
    md.write_text("\n".join(text))
    board.write_csv(csv)
    return [md, csv]
