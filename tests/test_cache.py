"""The content-addressed cache: each product keyed by exactly the config that determines it."""

import textwrap

from harness.cell import run_cell
from harness.cli import main
from harness.suite import expand_cells, load_suite

SUITE = """
name: cache
models: [{name: resmlp, options: {width: 6, depth: 2}, train: {epochs: 3}}]
datasets: [{name: "synthetic:yinyang", options: {n_train: 200, n_test: 100}}]
preprocess: {p: 4}
surrogates: [{k: 4, hidden: 8, m: 4, epochs: 2, batch_size: 64}]
topology: {n_points: 40}
"""


def cells(tmp_path, *overrides):
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(SUITE))
    return expand_cells(load_suite(path, overrides=list(overrides)))


def test_changing_a_kae_setting_reuses_network_and_representations(tmp_path):
    cache = str(tmp_path / "cache")
    first = run_cell(cells(tmp_path)[0], cache).row
    second = run_cell(cells(tmp_path, "surrogates.0.epochs=3")[0], cache).row
    assert (first["network_cached"], first["representations_cached"], first["surrogate_cached"]) == (False, False, False)
    assert (second["network_cached"], second["representations_cached"], second["surrogate_cached"]) == (True, True, False)
    assert second["network_acc"] == first["network_acc"]


def test_changing_the_layer_pooling_reuses_the_network_only(tmp_path):
    cache = str(tmp_path / "cache")
    run_cell(cells(tmp_path)[0], cache)
    row = run_cell(cells(tmp_path, "models.0.layers.indices=2")[0], cache).row
    assert (row["network_cached"], row["representations_cached"]) == (True, False)
    assert row["n_layers"] == 2


def test_same_cell_twice_is_fully_cached_and_identical(tmp_path):
    cache = str(tmp_path / "cache")
    first = run_cell(cells(tmp_path)[0], cache).row
    second = run_cell(cells(tmp_path)[0], cache).row
    assert second["surrogate_cached"] is True
    for key in ("surrogate_acc", "agreement", "forget_acc_after", "betti0_surrogate"):
        assert second[key] == first[key], key


def test_ls_lists_registered_adapters(capsys):
    assert main(["ls", "models", "res*"]) == 0
    assert "resmlp" in capsys.readouterr().out.split()
    assert main(["ls", "datasets"]) == 0
    assert {"synthetic", "sklearn"} <= set(capsys.readouterr().out.split())


def test_relabelling_a_surrogate_reuses_the_fitted_kae(tmp_path):
    cache = str(tmp_path / "cache")
    first = run_cell(cells(tmp_path)[0], cache).row
    second = run_cell(cells(tmp_path, "surrogates.0.label=renamed")[0], cache).row
    assert second["surrogate"] == "renamed" and second["surrogate_cached"] is True
    assert second["surrogate_acc"] == first["surrogate_acc"]
