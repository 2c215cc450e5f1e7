"""``koopbench compare`` end to end on results files: exit codes 0 / 1 / 2 and what is flagged (issue 5)."""

import polars as pl
import pytest

from harness.cli import main
from harness.errors import UserInputError
from reports.compare import compare_runs, load_tolerances
from reports.runs import load_runs
from reports.synthetic import synthetic_results


def _run(tmp_path, name, frame):
    directory = tmp_path / name
    directory.mkdir()
    frame.write_parquet(directory / "results.parquet")
    return str(directory)


def _cli(capsys, *argv):
    code = main(["compare", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_identical_runs_exit_0_nothing_flagged(tmp_path, capsys):
    frame = synthetic_results(models=2, seeds=3)
    base, cand = _run(tmp_path, "base", frame), _run(tmp_path, "cand", frame)
    code, out, _ = _cli(capsys, base, cand)
    assert code == 0
    assert "# koopbench compare: no regression" in out
    assert "No gating metric changed beyond noise and tolerance." in out


def test_same_seeds_rerun_with_fresh_noise_exit_0(tmp_path, capsys):
    base = _run(tmp_path, "base", synthetic_results(models=2, seeds=5, rng_seed=0, spread=0.002))
    cand = _run(tmp_path, "cand", synthetic_results(models=2, seeds=5, rng_seed=1, spread=0.002))
    assert _cli(capsys, base, cand)[0] == 0


def test_worse_surrogate_exits_1_and_flags_only_what_moved(tmp_path, capsys):
    base = _run(tmp_path, "base", synthetic_results(models=2, seeds=4, spread=0.005))
    worse = synthetic_results(models=2, seeds=4, spread=0.005, rng_seed=0,
                              shift={"surrogate_acc": -0.05, "agreement": -0.05}, extra_config={"epochs": 4})
    cand = _run(tmp_path, "cand", worse)
    code, _, err = _cli(capsys, base, cand)
    assert code == 2 and "surrogate.epochs (base 40; candidate 4)" in err  # configs differ: no overlap
    comparison = compare_runs(load_runs([base]), load_runs([cand]), ignore=("surrogate.epochs",))
    flagged = comparison.table.filter(pl.col("verdict") != "same")
    assert sorted(set(flagged["metric"])) == ["agreement", "surrogate_acc"]
    assert set(flagged["verdict"]) == {"regressed"}
    code, out, _ = _cli(capsys, base, cand, "--ignore", "surrogate.epochs")
    assert code == 1
    assert "# koopbench compare: REGRESSION" in out and "matched ignoring `surrogate.epochs`" in out


def test_candidate_failing_cells_is_a_regression(tmp_path, capsys):
    base = _run(tmp_path, "base", synthetic_results(models=1, seeds=3))
    cand = _run(tmp_path, "cand", synthetic_results(models=1, seeds=3, failed=2))
    comparison = compare_runs(load_runs([base]), load_runs([cand]))
    assert comparison.regressions["metric"].to_list() == ["ok_rate"]
    assert comparison.exit_code == 1


def test_tolerance_file_direction_and_gate(tmp_path, capsys):
    base = _run(tmp_path, "base", synthetic_results(models=1, seeds=4, spread=0.005))
    cand = _run(tmp_path, "cand", synthetic_results(models=1, seeds=4, spread=0.005, shift={"surrogate_acc": -0.05}))
    loose = tmp_path / "loose.yaml"
    loose.write_text("alpha: 0.01\nmetrics:\n  surrogate_acc: {abs: 0.1}\n")
    assert _cli(capsys, base, cand, "--tolerances", str(loose))[0] == 0
    flipped = tmp_path / "flipped.yaml"
    flipped.write_text("metrics:\n  surrogate_acc: {direction: lower}\n")
    assert _cli(capsys, base, cand, "--tolerances", str(flipped))[0] == 0  # a drop is now an improvement
    ungated = tmp_path / "ungated.yaml"
    ungated.write_text("metrics:\n  surrogate_acc: {gate: false}\n")
    assert _cli(capsys, base, cand, "--tolerances", str(ungated))[0] == 0
    assert _cli(capsys, base, cand, "--tolerance", "surrogate_acc=0.2")[0] == 0
    assert _cli(capsys, base, cand)[0] == 1


@pytest.mark.parametrize("text, expected", [
    ("metrics:\n  surrogate_acc: {absolute: 0.1}\n", "metrics.surrogate_acc.absolute"),
    ("metrics:\n  surogate_acc: {abs: 0.1}\n", "Did you mean: surrogate_acc"),
    ("metrics:\n  surrogate_acc: {direction: up}\n", "metrics.surrogate_acc.direction"),
    ("alpha: 2\n", "alpha"),
    ("metrics: [\n", "cannot read tolerances"),
])
def test_bad_tolerance_file_exit_2(tmp_path, capsys, text, expected):
    frame = synthetic_results(models=1, seeds=2)
    base, cand = _run(tmp_path, "base", frame), _run(tmp_path, "cand", frame)
    path = tmp_path / "tol.yaml"
    path.write_text(text)
    code, _, err = _cli(capsys, base, cand, "--tolerances", str(path))
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1


def test_missing_column_exit_2(tmp_path, capsys):
    base = _run(tmp_path, "base", synthetic_results(models=1, seeds=2))
    cand = _run(tmp_path, "cand", synthetic_results(models=1, seeds=2).drop("status"))
    code, _, err = _cli(capsys, base, cand)
    assert code == 2 and "missing required column(s) status" in err


def test_mismatched_suite_exit_2(tmp_path, capsys):
    base = _run(tmp_path, "base", synthetic_results(models=1, seeds=2, suite="smoke"))
    cand = _run(tmp_path, "cand", synthetic_results(models=1, seeds=2, suite="paper-yinyang"))
    code, _, err = _cli(capsys, base, cand)
    assert code == 2 and "mismatched suites: base ['smoke'], candidate ['paper-yinyang']" in err


def test_no_overlapping_cells_exit_2(tmp_path, capsys):
    base = _run(tmp_path, "base", synthetic_results(models=1, seeds=2))
    cand = _run(tmp_path, "cand", synthetic_results(models=2, seeds=2).filter(pl.col("model") == "model1"))
    code, _, err = _cli(capsys, base, cand)
    assert code == 2 and "no overlapping cells" in err and "model.name (base 'model0'; candidate 'model1')" in err


def test_not_a_run_directory_exit_2(tmp_path, capsys):
    base = _run(tmp_path, "base", synthetic_results(models=1, seeds=2))
    code, _, err = _cli(capsys, base, str(tmp_path / "nowhere"))
    assert code == 2 and "no results.parquet here" in err


def test_harness_version_change_still_matches(tmp_path):
    frame = synthetic_results(models=1, seeds=2)
    newer = frame.with_columns(pl.lit("9.9.9").alias("harness_version"), (pl.col("cell_id") + "-v9").alias("cell_id"))
    comparison = compare_runs(load_runs([_run(tmp_path, "b", frame)]), load_runs([_run(tmp_path, "c", newer)]))
    assert comparison.exit_code == 0 and comparison.table.height > 10


def test_override_parsing_is_strict():
    with pytest.raises(UserInputError, match="METRIC=ABS"):
        load_tolerances(None, ["surrogate_acc"])
    assert load_tolerances(None, ["surrogate_acc=0.2"]).metrics["surrogate_acc"].abs == 0.2
