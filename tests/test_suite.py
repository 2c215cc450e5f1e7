"""Suite files at the edge: validation errors name file and key; cells have stable ids."""

import textwrap
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import UserInputError
from harness.suite import cell_id, expand_cells, load_suite

MINIMAL = """
name: t
seeds: [0, 1]
models: [{name: resmlp, options: {width: 4, depth: 2}}]
datasets: [{name: "synthetic:yinyang", options: {n_train: 50, n_test: 20}}]
preprocess: {p: 2}
"""


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("suite_name", ["smoke.yaml", "paper-yinyang.yaml"])
def test_shipped_suites_validate(suites_dir, suite_name):
    assert expand_cells(load_suite(suites_dir / suite_name))


def test_matrix_expands_and_ids_are_stable_and_distinct(tmp_path):
    cells = expand_cells(load_suite(write(tmp_path, MINIMAL)))
    again = expand_cells(load_suite(write(tmp_path, MINIMAL, "copy.yaml")))
    assert [c.seed for c in cells] == [0, 1]
    assert [cell_id(c) for c in cells] == [cell_id(c) for c in again]
    assert len({cell_id(c) for c in cells}) == 2


def test_adapter_option_defaults_are_resolved_into_the_cell(tmp_path):
    cell = expand_cells(load_suite(write(tmp_path, MINIMAL)))[0]
    assert cell.model.options == {"width": 4, "depth": 2, "activation": "relu", "batchnorm": True}
    assert cell.dataset.options["test_seed"] != cell.dataset.options["train_seed"]


def test_include_and_command_line_overrides(tmp_path):
    write(tmp_path, MINIMAL, "base.yaml")
    child = write(tmp_path, "include: base.yaml\nname: child\nseeds: [7]\n", "child.yaml")
    suite = load_suite(child, overrides=["preprocess.p=3"], seeds=[9])
    assert suite.name == "child" and suite.seeds == [9] and suite.preprocess.p == 3
    assert load_suite(child, dataset="sklearn:digits").datasets[0].name == "sklearn:digits"


@pytest.mark.parametrize(
    ("edit", "key", "allowed"),
    [
        ("models: [{name: resmlp, colour: red}]", "models.0.colour", "allowed: label, layers, name, options"),
        ("models: [{name: resnet_mlp}]", "models.0.name", "Did you mean: resmlp"),
        ("datasets: [{name: 'synthetic:yinyan'}]", "datasets.0.name", "Did you mean: yinyang"),
        ("datasets: [{name: 'nosuch:thing'}]", "datasets.0.name", "Available: "),
        ("seeds: zero", "seeds", "valid list"),
        ("models: [{name: resmlp, train: {epochs: -3}}]", "models.0.train.epochs", "greater than or equal to 0"),
        ("models: [{name: resmlp, options: {width: many}}]", "models.0.options.width", "allowed options"),
        ("models: [{name: resmlp, weights: /nonexistent/w.safetensors}]", "models.0.weights", "not found"),
    ],
)
def test_bad_input_is_one_line_naming_file_and_key_with_exit_2(tmp_path, capsys, edit, key, allowed):
    path = write(tmp_path, MINIMAL + edit + "\n")
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--tracking-uri", "none", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(path) in err and key in err and allowed in err
    assert not out.exists()  # nothing started


def test_missing_suite_file_exits_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "absent.yaml"), "--tracking-uri", "none"]) == 2
    assert "absent.yaml: suite file not found" in capsys.readouterr().err


def test_include_cycle_is_an_error(tmp_path):
    write(tmp_path, "include: b.yaml\n", "a.yaml")
    write(tmp_path, "include: a.yaml\n", "b.yaml")
    with pytest.raises(UserInputError, match="include cycle"):
        load_suite(tmp_path / "a.yaml")


def test_p_beyond_the_narrowest_layer_exits_2_before_anything_starts(tmp_path, capsys):
    path = write(tmp_path, MINIMAL.replace("preprocess: {p: 2}", "preprocess: {p: 5}"))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--tracking-uri", "none", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "preprocess.p: p=5 exceeds the narrowest layer x_0 (width 4)" in err and str(path) in err
    assert not out.exists()


@pytest.mark.parametrize("payload", [b"not a checkpoint at all", b""])
def test_corrupt_checkpoint_exits_2_naming_the_file(tmp_path, capsys, payload):
    checkpoint = tmp_path / "weights.safetensors"
    checkpoint.write_bytes(payload)
    path = write(tmp_path, MINIMAL + f"models: [{{name: resmlp, options: {{width: 4, depth: 2}}, weights: {checkpoint}}}]\n")
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--tracking-uri", "none", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "models.0.weights" in err and "weights.safetensors: cannot read checkpoint" in err
    assert not out.exists()


def test_checkpoint_of_another_model_exits_2(tmp_path, capsys):
    import torch
    from safetensors.torch import save_file

    checkpoint = tmp_path / "other.safetensors"
    save_file({"stem.0.weight": torch.zeros(3, 3)}, str(checkpoint))
    path = write(tmp_path, MINIMAL + f"models: [{{name: resmlp, options: {{width: 4, depth: 2}}, weights: {checkpoint}}}]\n")
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--tracking-uri", "none", "--quiet"]) == 2
    assert "does not fit the model" in capsys.readouterr().err
