"""``koopbench history``: several runs side by side in time order, per metric, with a plot.

In the manner of timm's results CSVs (one row per run and model, a column per figure) and asv's
graphs (a metric's value over successive runs). A run's time is the newest of its ``finished_at``
column (if the results have one) and otherwise its ``results.parquet`` modification time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from harness.errors import UserInputError
from reports.leaderboard import GROUP, build_leaderboard, to_markdown
from reports.metrics import METRICS
from reports.plots import history_plot
from reports.runs import Runs
from harness.store import RESULTS

#: Metrics shown by default (those present).
DEFAULT_METRICS = ("network_acc", "surrogate_acc", "agreement", "linear_floor_acc", "betti0_gap",
                   "best_edit_forget_acc", "best_edit_retain_drop")


def run_time(runs: Runs) -> dt.datetime:
    """When a run finished (see the module docstring), as a naive UTC datetime."""
    results = runs.results
    if "finished_at" in results.columns and results["finished_at"].drop_nulls().len():
        value = results["finished_at"].drop_nulls().cast(pl.String).max()
        return dt.datetime.fromisoformat(value).replace(tzinfo=None)
    stamp = (runs.dirs[0] / RESULTS).stat().st_mtime
    return dt.datetime.fromtimestamp(stamp, dt.UTC).replace(tzinfo=None)


def build_history(runs: list[Runs]) -> pl.DataFrame:
    """The leaderboard of each run, stacked in time order.

    Returns:
        One row per (run, dataset, model, surrogate): ``run`` (directory name), ``time``,
        ``harness_version``, ``seeds``, ``failed``, ``score`` and ``<m>_mean`` / ``<m>_ci95`` per
        metric present, sorted by time.
    """
    frames = []
    for run in runs:
        board = build_leaderboard(run.results, run.unlearning)
        version = ", ".join(sorted(set(run.results["harness_version"].drop_nulls().cast(pl.String).to_list()))) \
            if "harness_version" in run.results.columns else ""
        frames.append(board.select(*GROUP, "seeds", "failed", "score", pl.col("^.*_(mean|ci95)$"))
                      .with_columns(pl.lit(run.dirs[0].name).alias("run"), pl.lit(run_time(run)).alias("time"),
                                    pl.lit(version).alias("harness_version")))
    history = pl.concat(frames, how="diagonal_relaxed").sort("time", maintain_order=True)
    return history.select("run", "time", "harness_version", *GROUP, pl.exclude("run", "time", "harness_version", *GROUP))


def write_history(runs: list[Runs], out_dir: str | Path, metrics: list[str] | None = None) -> list[Path]:
    """Write ``history.md`` (a table per metric: runs down, groups across), ``history.csv`` and
    ``history.png`` into ``out_dir``; their paths, the Markdown first.

    Raises:
        UserInputError: a requested metric that no run has.
    """
    history = build_history(runs)
    wanted = list(metrics or DEFAULT_METRICS)
    shown = [m for m in wanted if f"{m}_mean" in history.columns]
    missing = [m for m in (metrics or []) if m not in shown]
    if missing:
        available = sorted(c[: -len("_mean")] for c in history.columns if c.endswith("_mean"))
        raise UserInputError(f"no run has metric(s) {', '.join(missing)}. Available: {', '.join(available)}", key="--metric")
    labels = {m: METRICS.get(m).label if m in METRICS else m for m in shown}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = [f"# koopbench history: {len(runs)} runs", "",
            "Seed mean ± 95% interval per run (oldest first) and (dataset / model / surrogate).", ""]
    keyed = history.with_columns(pl.concat_str(pl.col("dataset"), pl.lit(" / "), pl.col("model"), pl.lit(" / "),
                                               pl.col("surrogate")).alias("group"))
    for metric in shown:
        cells = keyed.with_columns(pl.format("{} ± {}", pl.col(f"{metric}_mean").round(4),
                                             pl.col(f"{metric}_ci95").round(4).fill_null("-")).alias("value"))
        wide = cells.pivot(on="group", index=["run", "time", "harness_version"], values="value", aggregate_function="first",
                           maintain_order=True)
        text += [f"## {labels[metric]} (`{metric}`)", "", to_markdown(wide.with_columns(pl.col("time").dt.strftime("%Y-%m-%d %H:%M:%S"))), ""]
    md, csv, png = out_dir / "history.md", out_dir / "history.csv", out_dir / "history.png"
    md.write_text("\n".join(text))
    history.write_csv(csv)
    png.write_bytes(history_plot(history, shown, labels))
    return [md, csv, png]
