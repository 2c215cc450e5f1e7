"""``koopbench history`` and ``koopbench report`` over several runs (issue 5)."""

import os

import polars as pl
import pytest

from harness.cli import main
from reports.history import build_history
from reports.runs import load_runs
from reports.synthetic import synthetic_results


def _runs(tmp_path):
    dirs = []
    for i, shift in enumerate((0.0, -0.02, 0.01)):
        directory = tmp_path / f"run{i}"
        directory.mkdir()
        synthetic_results(models=2, seeds=3, spread=0.001, shift={"surrogate_acc": shift}).write_parquet(directory / "results.parquet")
        os.utime(directory / "results.parquet", (1_700_000_000 + 1000 * (2 - i),) * 2)  # run2 oldest, run0 newest
        dirs.append(directory)
    return dirs


def test_history_in_time_order(tmp_path):
    history = build_history([load_runs([d]) for d in _runs(tmp_path)])
    assert history["run"].unique(maintain_order=True).to_list() == ["run2", "run1", "run0"]
    model0 = history.filter(pl.col("model") == "model0")
    assert model0["surrogate_acc_mean"].to_list() == pytest.approx([0.96, 0.93, 0.95], abs=0.003)


def test_history_command_writes_table_csv_and_plot(tmp_path, capsys):
    dirs = _runs(tmp_path)
    out = tmp_path / "hist"
    assert main(["history", *map(str, dirs), "--out", str(out), "--metric", "surrogate_acc"]) == 0
    text = capsys.readouterr().out
    assert "## surrogate acc (`surrogate_acc`)" in text
    assert text.index("| run2 |") < text.index("| run1 |") < text.index("| run0 |")
    assert (out / "history.png").read_bytes()[:4] == b"\x89PNG"
    assert pl.read_csv(out / "history.csv").height == 6


def test_history_unknown_metric_exit_2(tmp_path, capsys):
    assert main(["history", *map(str, _runs(tmp_path)), "--out", str(tmp_path / "h"), "--metric", "nope"]) == 2
    assert "no run has metric(s) nope. Available:" in capsys.readouterr().err


def test_report_merges_runs_and_needs_out(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    synthetic_results(models=1, seeds=2).write_parquet(a / "results.parquet")
    synthetic_results(models=1, seeds=2, suite="other").with_columns(pl.lit("data9").alias("dataset"),
                                                                    pl.col("cell_id") + "x").write_parquet(b / "results.parquet")
    assert main(["report", str(a), str(b)]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "merged")]) == 0
    text = capsys.readouterr().out
    assert "## data0" in text and "## data9" in text and "leaderboard: other, synthetic-suite" in text
    assert (tmp_path / "merged" / "report.html").is_file()
