"""The leaderboard's tables against hand-computed means, intervals, ranks and scores (issue 5)."""

import json

import numpy as np
import polars as pl
import pytest

from reports.leaderboard import build_leaderboard, display_table, write_leaderboard
from reports.metrics import betti_gap, config_key, with_derived
from reports.synthetic import synthetic_results


def _rows():
    """Two models on one dataset, two seeds each, plus a failed cell of model b."""
    base = {"suite": "s", "dataset": "d", "surrogate": "k", "error": None, "config": "{}"}
    rows = [
        {"cell_id": "a0", "model": "a", "seed": 0, "status": "ok", "network_acc": 0.90, "surrogate_acc": 0.80,
         "agreement": 0.80, "forget_acc_after": 0.10, "retain_acc_before": 0.90, "retain_acc_after": 0.88,
         "betti0_network": [10, 2], "betti0_surrogate_matched": [10, 4]},
        {"cell_id": "a1", "model": "a", "seed": 1, "status": "ok", "network_acc": 0.92, "surrogate_acc": 0.84,
         "agreement": 0.90, "forget_acc_after": 0.30, "retain_acc_before": 0.90, "retain_acc_after": 0.90,
         "betti0_network": [10, 2], "betti0_surrogate_matched": [5, 2]},
        {"cell_id": "b0", "model": "b", "seed": 0, "status": "ok", "network_acc": 0.95, "surrogate_acc": 0.70,
         "agreement": 0.70, "forget_acc_after": 0.50, "retain_acc_before": 0.90, "retain_acc_after": 0.80,
         "betti0_network": [4], "betti0_surrogate_matched": [4]},
        {"cell_id": "b1", "model": "b", "seed": 1, "status": "ok", "network_acc": 0.95, "surrogate_acc": 0.70,
         "agreement": 0.70, "forget_acc_after": 0.50, "retain_acc_before": 0.90, "retain_acc_after": 0.80,
         "betti0_network": [4], "betti0_surrogate_matched": [4]},
        {"cell_id": "b2", "model": "b", "seed": 2, "status": "failed", "error": "boom"},
    ]
    return pl.DataFrame([{**base, **r} for r in rows], infer_schema_length=None)


def test_means_intervals_ranks_and_score_by_hand():
    board = build_leaderboard(_rows())
    a, b = board.row(0, named=True), board.row(1, named=True)
    assert (a["model"], b["model"]) == ("a", "b")
    assert (a["seeds"], a["failed"], b["seeds"], b["failed"]) == (2, 0, 2, 1)
    assert a["surrogate_acc_mean"] == pytest.approx(0.82)
    assert a["surrogate_acc_std"] == pytest.approx(np.std([0.80, 0.84], ddof=1))
    assert a["surrogate_acc_ci95"] == pytest.approx(12.7062047 * np.std([0.80, 0.84], ddof=1) / np.sqrt(2), rel=1e-6)
    # betti0_gap per cell: a0 = (0 + 2/4) / 2 = 0.25, a1 = (5/10 + 0) / 2 = 0.25; b = 0
    assert a["betti0_gap_mean"] == pytest.approx(0.25)
    assert b["betti0_gap_mean"] == pytest.approx(0.0)
    # ranks: network_acc higher is better (b first); surrogate_acc (a first); betti0_gap lower is better (b first)
    assert (a["network_acc_rank"], b["network_acc_rank"]) == (2, 1)
    assert (a["surrogate_acc_rank"], b["surrogate_acc_rank"]) == (1, 2)
    assert (a["betti0_gap_rank"], b["betti0_gap_rank"]) == (2, 1)
    # no unlearning table: the headline edit stands in; retain drop a = (0.02 + 0) / 2, b = 0.10
    assert a["best_edit_forget_acc_mean"] == pytest.approx(0.20)
    assert a["best_edit_retain_drop_mean"] == pytest.approx(0.01)
    # score = mean(agreement, 1 - betti0_gap, 1 - forget, 1 - retain drop)
    assert a["score"] == pytest.approx(np.mean([0.85, 0.75, 0.80, 0.99]))
    assert b["score"] == pytest.approx(np.mean([0.70, 1.00, 0.50, 0.90]))
    assert (a["rank"], b["rank"]) == (1, 2)


def test_ties_share_a_dense_rank():
    rows = _rows().with_columns(pl.lit(0.9).alias("network_acc"))
    board = build_leaderboard(rows)
    assert board["network_acc_rank"].to_list() == [1, 1]


def test_best_edit_is_chosen_per_group_among_surrogate_edits_only():
    results = _rows()
    unlearning = pl.DataFrame({
        "cell_id": ["a0", "a0", "a1", "a1", "a0", "a1"],
        "method": ["edit_x", "edit_y", "edit_x", "edit_y", "retrain", "retrain"],
        "forget_class": [0] * 6,
        "forget_acc_after": [0.2, 0.0, 0.4, 0.1, 0.0, 0.0],
        "retain_acc_before": [0.9] * 6,
        "retain_acc_after": [0.9, 0.88, 0.9, 0.9, 0.9, 0.9],
    })
    board = build_leaderboard(results, unlearning)
    a = board.filter(pl.col("model") == "a").row(0, named=True)
    assert a["best_edit_method"] == "edit_y"  # retrain is a reference on the real network, never the "best edit"
    assert a["best_edit_forget_acc_mean"] == pytest.approx(0.05)
    assert a["best_edit_retain_drop_mean"] == pytest.approx(0.01)


def test_missing_optional_columns_degrade():
    rows = _rows().select("cell_id", "suite", "model", "dataset", "seed", "status", "error", "network_acc")
    board = build_leaderboard(rows)
    assert board["score"].to_list() == [None, None]
    assert "surrogate_acc_mean" not in board.columns
    assert display_table(board).columns[:6] == ["rank", "model", "surrogate", "seeds", "failed", "score"]


def test_outputs_list_failed_cells(tmp_path):
    paths = write_leaderboard(_rows(), tmp_path)
    assert [p.name for p in paths] == ["leaderboard.md", "leaderboard.csv", "leaderboard.parquet"]
    text = paths[0].read_text()
    assert "## Failed cells (1)" in text and "boom" in text
    assert "0.820 ± 0.254 (1)" in text  # surrogate acc of model a: mean ± t-interval (rank)
    assert pl.read_parquet(paths[2]).height == 2


def test_betti_gap_on_ragged_lists():
    result = betti_gap(pl.Series([[10, 2], [3], [], None]), pl.Series([[5, 2, 9], [3], [], [1]]))
    assert result.to_list()[:2] == [pytest.approx(0.25), 0.0]
    assert result.to_list()[2:] == [None, None]


def test_config_key_drops_seed_and_ignored_keys():
    a = json.dumps({"seed": 0, "surrogate": {"epochs": 40, "m": 20}})
    b = json.dumps({"surrogate": {"m": 20, "epochs": 4}, "seed": 3})
    assert config_key(a) != config_key(b)
    assert config_key(a, ("surrogate.epochs",)) == config_key(b, ("surrogate.epochs",))


def test_synthetic_leaderboard_orders_models_as_constructed():
    board = build_leaderboard(synthetic_results(models=4, seeds=5, spread=0.002))
    assert board["model"].to_list() == ["model0", "model1", "model2", "model3"]
    assert board["rank"].to_list() == [1, 2, 3, 4]
    assert with_derived(synthetic_results(models=1, seeds=2))["ok_rate"].to_list() == [1.0, 1.0]


def test_acts_on_column_decides_what_is_a_reference():
    unlearning = pl.DataFrame({
        "cell_id": ["a0", "a0", "a1", "a1"], "method": ["kae_edit", "mystery", "kae_edit", "mystery"],
        "acts_on": ["surrogate", "network", "surrogate", "network"], "forget_class": [0] * 4,
        "forget_acc_after": [0.3, 0.0, 0.3, 0.0], "retain_acc_before": [0.9] * 4, "retain_acc_after": [0.9] * 4,
    })
    board = build_leaderboard(_rows(), unlearning)
    assert board.filter(pl.col("model") == "a")["best_edit_method"].to_list() == ["kae_edit"]
