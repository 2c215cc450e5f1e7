"""End to end: suites/smoke.yaml through real Ray, real MLflow (sqlite in a temp dir), real files."""

import json
import shutil
import textwrap

import numpy as np
import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from harness.cell import run_cell
from harness.cli import main
from harness.suite import expand_cells, load_suite

DESIGN_COLUMNS = [
    "cell_id", "suite", "model", "dataset", "seed", "status", "error", "network_acc", "surrogate_acc",
    "agreement", "betti0_network", "betti0_surrogate", "forget_class", "forget_acc_before", "forget_acc_after",
    "retain_acc_before", "retain_acc_after", "edit_seconds", "seconds",
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    args = ["run", "suites/smoke.yaml", "--out", str(root / "run"), "--cache", str(root / "cache"),
            "--tracking-uri", f"sqlite:///{root / 'mlflow.db'}", "--quiet"]
    code = main(args)
    return root, args, code


def test_smoke_suite_runs_every_cell_ok(smoke_run):
    root, _, code = smoke_run
    assert code == 0
    results = pl.read_parquet(root / "run" / "results.parquet")
    assert set(DESIGN_COLUMNS) <= set(results.columns)
    assert results.height == 2 and results["status"].to_list() == ["ok", "ok"]
    assert results["network_acc"].min() > 0.8
    assert results["agreement"].min() > 0.8
    assert all(len(curve) == 6 for curve in results["betti0_network"].to_list())
    assert (root / "run" / "leaderboard.md").read_text().count("resmlp-10x5") >= 1
    unlearning = pl.read_parquet(root / "run" / "unlearning.parquet")
    per_method = unlearning.group_by("cell_id", "method").len()  # one row per forgotten class
    assert per_method["cell_id"].n_unique() == 2 and set(per_method["len"].to_list()) == {3}


def test_smoke_suite_tracks_parent_and_children_in_mlflow(smoke_run):
    root, _, _ = smoke_run
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("koopbench/smoke")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and len(children) == 2
    for child in children:
        assert child.data.params["model.name"] == "resmlp"
        assert 0 <= child.data.metrics["surrogate_acc"] <= 1
        history = client.get_metric_history(child.info.run_id, "betti0_network")
        assert [m.step for m in history] == list(range(6))
        assert "betti0.png" in [a.path for a in client.list_artifacts(child.info.run_id)]
    assert "leaderboard.md" in [a.path for a in client.list_artifacts(parents[0].info.run_id)]


def test_rerun_skips_finished_cells_and_changes_nothing(smoke_run, capsys):
    root, args, _ = smoke_run
    before = pl.read_parquet(root / "run" / "results.parquet")
    assert main(args) == 0
    assert '"skipped": 2' in capsys.readouterr().err
    assert pl.read_parquet(root / "run" / "results.parquet").equals(before)
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("koopbench/smoke").experiment_id])
    assert len(runs) == 3  # a rerun with nothing to do adds no run


def test_same_cell_gives_same_figures_serially_and_on_ray(smoke_run, tmp_path):
    root, _, _ = smoke_run
    ray_row = pl.read_parquet(root / "run" / "results.parquet").filter(pl.col("seed") == 0).row(0, named=True)
    cell = [c for c in expand_cells(load_suite("suites/smoke.yaml")) if c.seed == 0][0]
    serial_row = run_cell(cell, str(tmp_path / "fresh-cache")).row
    assert serial_row["network_cached"] is False
    for key in ("network_acc", "surrogate_acc", "agreement", "forget_acc_after", "betti_scale"):
        assert serial_row[key] == pytest.approx(ray_row[key], abs=1e-6), key
    assert serial_row["betti0_surrogate"] == ray_row["betti0_surrogate"]


def test_a_failing_cell_is_a_row_with_its_error_and_the_others_finish(tmp_path, capsys):
    suite = tmp_path / "mixed.yaml"
    suite.write_text(textwrap.dedent("""
        name: mixed
        models: [{name: resmlp, options: {width: 6, depth: 2}, train: {epochs: 3}}]
        datasets: [{name: "synthetic:yinyang", options: {n_train: 200, n_test: 100}}]
        preprocess: {p: 4}
        surrogates:
          - {label: diverges, k: 4, hidden: 8, m: 4, epochs: 2, batch_size: 64, lr: 1.0e+30}
          - {label: fine, k: 4, hidden: 8, m: 4, epochs: 2, batch_size: 64}
        topology: {n_points: 40}
    """))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["run", str(suite), "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "cache"),
            "--tracking-uri", uri, "--serial", "--quiet"]
    assert main(args) == 1
    results = pl.read_parquet(tmp_path / "run" / "results.parquet").sort("surrogate")
    assert results["status"].to_list() == ["failed", "ok"]
    assert results["error"][0] and results["error"][1] is None
    assert "diverges" in (tmp_path / "run" / "leaderboard.md").read_text()
    capsys.readouterr()
    assert main(args) == 1  # the failed cell is retried, the finished one skipped
    assert '"skipped": 1' in capsys.readouterr().err
    runs = MlflowClient(tracking_uri=uri).search_runs([MlflowClient(tracking_uri=uri).get_experiment_by_name("koopbench/mixed").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1  # the resumed run reuses its parent
    assert sorted(r.data.tags["status"] for r in runs if r not in parents) == ["failed", "failed", "ok"]
