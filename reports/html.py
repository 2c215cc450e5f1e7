"""The HTML report: one self-contained file (inline CSS, plots as base64 PNG, no script, no URL).

It opens without a network: nothing in it is fetched. Sections: the leaderboard per dataset (as
in ``leaderboard.md``), the unlearning methods (from ``unlearning.parquet`` where present), the
failed cells, and the figures of :mod:`reports.plots`.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from pathlib import Path

import polars as pl

from reports.leaderboard import GROUP, build_leaderboard, display_table, failed_cells, score_parts
from reports.metrics import is_reference_method
from reports import plots
from reports.runs import Runs

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:nth-child(-n+3){text-align:left}
tr:nth-child(even) td{background:#fafafa}
.note{color:#555;font-size:.9em;max-width:70em}
.scroll{overflow-x:auto}img{max-width:100%;border:1px solid #eee;margin:.4em 0}
"""
#: unlearning.parquet columns summarised per (group, method), where present (mean over seeds and classes).
UNLEARNING_COLUMNS = ("forget_acc_after", "retain_drop", "worst_retain_drop", "tv_to_retrain",
                      "probe_balanced_acc", "seconds", "edit_seconds")


def table_html(frame: pl.DataFrame, table_id: str | None = None, digits: int = 4) -> str:
    """An HTML ``<table>`` of ``frame`` (values escaped; floats to ``digits`` places)."""
    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.{digits}f}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in frame.iter_rows())
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    return f"<div class='scroll'><table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def unlearning_summary(runs: Runs) -> pl.DataFrame | None:
    """Per (dataset, model, surrogate, method): cells, and the mean over seeds and forgotten classes
    of each :data:`UNLEARNING_COLUMNS` present; ``reference`` marks methods on the real network."""
    u = runs.unlearning
    if not u.height or not {"method", "dataset", "model"} <= set(u.columns):
        return None
    if {"retain_acc_before", "retain_acc_after"} <= set(u.columns):
        u = u.with_columns((pl.col("retain_acc_before") - pl.col("retain_acc_after")).alias("retain_drop"))
    if "surrogate" not in u.columns:
        u = u.with_columns(pl.lit("").alias("surrogate"))
    columns = [c for c in UNLEARNING_COLUMNS if c in u.columns and u.schema[c].is_numeric()]
    out = (u.group_by(*GROUP, "method")
           .agg(pl.col("cell_id").n_unique().alias("cells"), *[pl.col(c).mean() for c in columns])
           .sort(*GROUP, "method"))
    acts_on = (u.group_by(*GROUP, "method").agg(pl.col("acts_on").first()).join(out, on=[*GROUP, "method"], how="right")
               ["acts_on"].to_list() if "acts_on" in u.columns else [None] * out.height)
    reference = [is_reference_method(m, on) for m, on in zip(out["method"].to_list(), acts_on)]
    return out.insert_column(4, pl.Series("reference", reference))


def _figure(title: str, png: bytes | None, why_missing: str) -> str:
    if png is None:
        return f"<h3>{html.escape(title)}</h3><p class='note'>Not drawn: {html.escape(why_missing)}.</p>"
    data = base64.b64encode(png).decode("ascii")
    return f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"


def render_html(runs: Runs, board: pl.DataFrame | None = None) -> str:
    """The report as one HTML string (see the module docstring)."""
    results = runs.results
    board = build_leaderboard(results, runs.unlearning) if board is None else board
    ok = results.filter(pl.col("status") == "ok")
    if "surrogate" not in ok.columns:
        ok = ok.with_columns(pl.lit("").alias("surrogate"))
    suites = ", ".join(sorted(set(results["suite"].drop_nulls().to_list())))
    versions = ", ".join(sorted(set(results["harness_version"].drop_nulls().cast(pl.String).to_list()))) \
        if "harness_version" in results.columns else "unknown"
    parts = score_parts(board)
    body = [
        f"<h1>koopbench report: {html.escape(suites)}</h1>",
        f"<p class='note'>{results.height} cells ({ok.height} ok, {results.height - ok.height} failed) from "
        f"{len(runs.dirs)} run(s): {html.escape(', '.join(str(d) for d in runs.dirs))}; harness version(s) "
        f"{html.escape(versions)}; generated {dt.datetime.now().isoformat(timespec='seconds')}.</p>",
        "<h2>Leaderboard</h2>",
        "<p class='note'>Held-out figures, mean ± 95% interval over seeds (Student t), (dense rank per column "
        f"within the dataset). <b>score</b> = unweighted mean of {html.escape(', '.join(parts) or 'no parts')} "
        "in [0, 1], higher is better: agreement; 1 - beta0 gap (topological fidelity); 1 - forget-class accuracy "
        "after the best surrogate edit; 1 - its retained-accuracy drop.</p>",
    ]
    for dataset in board["dataset"].unique(maintain_order=True).to_list():
        body += [f"<h3>{html.escape(dataset)}</h3>",
                 table_html(display_table(board.filter(pl.col("dataset") == dataset)), table_id=f"leaderboard-{dataset}")]
    summary = unlearning_summary(runs)
    if summary is not None:
        body += ["<h2>Unlearning methods</h2>",
                 "<p class='note'>Mean over seeds and forgotten classes, held-out data. reference = a method on "
                 "the real network (retrain, fine-tune, gradient ascent, logit mask), not an edit of the surrogate.</p>",
                 table_html(summary, table_id="unlearning")]
    failed = failed_cells(results)
    body += [f"<h2>Failed cells ({failed.height})</h2>",
             table_html(failed, table_id="failed") if failed.height else "<p class='note'>None.</p>"]
    body += ["<h2>Figures</h2>",
             _figure("Surrogate vs network accuracy", plots.accuracy_scatter(ok, board), "no accuracy columns"),
             _figure("Betti curves: network layers vs KAE iterates", plots.betti_curves(ok, board), "no Betti curve columns"),
             _figure("Unlearning: per-class accuracy before and after the edit", plots.unlearning_bars(ok, board),
                     "no per-class accuracy columns"),
             _figure("Eigenvalues of K and the unit circle", plots.eigenvalues(ok, board), "no eigenvalue columns")]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>koopbench report: {html.escape(suites)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>")


def write_html(runs: Runs, path: str | Path, board: pl.DataFrame | None = None) -> Path:
    """Write :func:`render_html` to ``path``; the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(runs, board), encoding="utf-8")
    return path
