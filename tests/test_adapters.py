"""The adapter contract, checked for EVERY registered model family and dataset scheme.

A new family or scheme must add a tiny case below; ``test_every_*_has_a_case`` fails until it does.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adapters import DATASET_SCHEMES, MODEL_FAMILIES
from harness.config import LayerConfig, ModelConfig, PreprocessConfig
from harness.errors import UserInputError
from harness.network import apply_checkpoint, build_network, load_checkpoint, save_checkpoint
from harness.preprocessing import fit_preprocessor
from harness.representations import extract_representations, layer_widths, pool
from test_datasets import LOCAL_DATASETS

# family -> (model config, input shape, expected layer shapes per example (after the batch axis))
MODEL_CASES = {
    "resmlp": (
        {"name": "resmlp", "options": {"width": 6, "depth": 3}},
        (2,),
        [(6,), (6,), (6,), (6,)],
    ),
    "timm": (
        {"name": "timm:resnet18", "options": {"model_kwargs": {"channels": [4, 8, 8, 16], "stem_width": 4}}},
        (1, 16, 16),
        [(64, 8, 8), (4, 4, 4), (8, 2, 2), (8, 1, 1), (16,)],  # stem, layer1..3, pre-logits
    ),
    "hf": (
        {"name": "hf:resnet", "options": {"config": {"embedding_size": 4, "hidden_sizes": [4, 8, 8, 16],
                                                     "depths": [1, 1, 1, 1]}}},
        (1, 16, 16),
        [(4, 4, 4), (4, 4, 4), (8, 2, 2), (8, 1, 1), (16,)],  # embedder, stage1..3, classifier input
    ),
}

# More architectures of the big families: the same contract, different layer kinds (token maps).
EXTRA_MODEL_CASES = {
    "timm-vit": (
        {"name": "timm:vit_tiny_patch16_224",
         "options": {"model_kwargs": {"img_size": 16, "patch_size": 4, "embed_dim": 8, "depth": 2, "num_heads": 2}}},
        (1, 16, 16),
        [(17, 8), (8,)],  # block 1 tokens (class token + 16 patches), pre-logits
    ),
    "timm-convnext": (
        {"name": "timm:convnext_atto", "options": {"input_size": 32, "model_kwargs": {"dims": [4, 8, 8, 16]}}},
        (1, 8, 8),
        [(4, 8, 8), (8, 4, 4), (8, 2, 2), (16,)],
    ),
    "timm-mobilenetv3": (
        {"name": "timm:mobilenetv3_small_050", "options": {}},
        (3, 16, 16),
        [(16, 8, 8), (8, 4, 4), (16, 2, 2), (24, 1, 1), (1024,)],
    ),
    "hf-vit": (
        {"name": "hf:vit", "options": {"config": {"hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
                                                  "intermediate_size": 16, "patch_size": 4}}},
        (1, 16, 16),
        [(17, 8), (8,)],  # block 1 (class token + 16 patches), classifier input
    ),
}

ALL_MODEL_CASES = {**MODEL_CASES, **EXTRA_MODEL_CASES}
NUM_CLASSES = 3


def test_every_model_family_has_a_case():
    assert set(MODEL_FAMILIES.names()) == set(MODEL_CASES)


def test_every_dataset_scheme_has_a_case():
    assert set(DATASET_SCHEMES.names()) == set(LOCAL_DATASETS)


class _Shape:
    def __init__(self, input_shape):
        self.input_shape = input_shape
        self.num_classes = NUM_CLASSES


def _build(case):
    spec, input_shape, _ = ALL_MODEL_CASES[case]
    cfg = ModelConfig(**spec)
    family = MODEL_FAMILIES.get(cfg.family)
    options = family.Options(**cfg.options)
    family.validate(cfg.arch, options)
    torch.manual_seed(0)
    module = build_network(cfg, _Shape(input_shape)).eval()
    inputs = torch.rand(4, *input_shape, generator=torch.Generator().manual_seed(0))
    return cfg, family, module, inputs


@pytest.mark.parametrize("case", sorted(ALL_MODEL_CASES))
def test_layer_count_and_shapes(case):
    _, family, module, inputs = _build(case)
    expected = ALL_MODEL_CASES[case][2]
    with torch.inference_mode():
        maps = family.layer_maps(module, family.prepare_inputs(module, inputs), None)
    result = [tuple(m.shape[1:]) for m in maps]
    assert result == expected
    assert all(m.shape[0] == len(inputs) for m in maps)


@pytest.mark.parametrize("case", sorted(ALL_MODEL_CASES))
def test_layer_selection_follows_timm_indices(case):
    _, family, module, inputs = _build(case)
    with torch.inference_mode():
        prepared = family.prepare_inputs(module, inputs)
        every = family.layer_maps(module, prepared, None)
        last_two = family.layer_maps(module, prepared, 2)
        chosen = family.layer_maps(module, prepared, [0, -1])
    assert [m.shape for m in last_two] == [m.shape for m in every[-2:]]
    assert torch.equal(chosen[0], every[0]) and torch.equal(chosen[1], every[-1])


@pytest.mark.parametrize("case", sorted(ALL_MODEL_CASES))
@pytest.mark.parametrize("token", ["cls", "mean"])
def test_head_of_pooled_last_layer_is_the_models_logits(case, token):
    _, family, module, inputs = _build(case)
    with torch.inference_mode():
        prepared = family.prepare_inputs(module, inputs)
        logits = module(prepared)
        last = pool(family.layer_maps(module, prepared, None)[-1], LayerConfig(token=token))
        result = family.head(module, last)
    assert logits.shape == (len(inputs), NUM_CLASSES)
    torch.testing.assert_close(result, logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", sorted(ALL_MODEL_CASES))
@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_checkpoint_round_trip_gives_the_same_logits(case, suffix, tmp_path):
    cfg, family, module, inputs = _build(case)
    path = tmp_path / f"net{suffix}"
    if suffix == ".safetensors":
        save_checkpoint(module, path)
    else:
        torch.save(module.state_dict(), path)
    torch.manual_seed(1)  # a differently initialised copy
    fresh = build_network(cfg, _Shape(ALL_MODEL_CASES[case][1])).eval()
    apply_checkpoint(fresh, load_checkpoint(path), str(path))
    with torch.inference_mode():
        expected = module(family.prepare_inputs(module, inputs))
        result = fresh(family.prepare_inputs(fresh, inputs))
    torch.testing.assert_close(result, expected, rtol=0, atol=0)


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_checkpoint_of_another_model_names_the_file(case, tmp_path):
    cfg, _, module, _ = _build(case)
    path = tmp_path / "other.safetensors"
    save_checkpoint(torch.nn.Linear(3, 2), path)
    with pytest.raises(UserInputError, match=str(path)):
        apply_checkpoint(module, load_checkpoint(path), str(path))


def test_corrupt_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(UserInputError, match="broken.safetensors"):
        load_checkpoint(path)


# ---------------------------------------------------------------- dataset schemes


@pytest.mark.parametrize("scheme", sorted(LOCAL_DATASETS))
def test_dataset_scheme_contract(scheme, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    name, options, expected_shape, expected_classes = LOCAL_DATASETS[scheme](tmp_path)
    scheme_name, address = name.split(":", 1)
    impl = DATASET_SCHEMES.get(scheme_name)
    opts = impl.Options(**options)
    impl.validate(address, opts)
    splits = impl.load(address, opts)
    assert splits.input_shape == expected_shape
    assert splits.num_classes == len(splits.class_names) == expected_classes
    for split in ("train", "test"):
        ds = getattr(splits, split)
        assert set(ds.column_names) == {"input", "label"}
        inputs, labels = splits.arrays(split)
        assert inputs.dtype == np.float32 and labels.dtype == np.int64
        assert inputs.shape == (len(ds), *expected_shape)
        assert labels.min() >= 0 and labels.max() < splits.num_classes
    train, _ = splits.arrays("train")
    test, _ = splits.arrays("test")
    seen = {row.tobytes() for row in train.reshape(len(train), -1)}
    assert not any(row.tobytes() in seen for row in test.reshape(len(test), -1)), "a test example is in train"


def test_unknown_dataset_scheme_lists_the_schemes():
    with pytest.raises(UserInputError) as info:
        DATASET_SCHEMES.get("hff")
    for scheme in ("hf", "idx", "parquet", "imagefolder", "sklearn", "synthetic"):
        assert scheme in str(info.value)


def test_timm_rejects_flat_data():
    cfg = ModelConfig(name="timm:resnet18")
    with pytest.raises(UserInputError, match="image data"):
        build_network(cfg, _Shape((2,)))


@pytest.mark.parametrize("case", sorted(ALL_MODEL_CASES))
def test_layer_widths_match_the_extracted_representations(case):
    cfg, family, module, inputs = _build(case)
    input_shape = ALL_MODEL_CASES[case][1]
    expected = [r.shape[1] for r in extract_representations(family, module, inputs.numpy(), cfg.layers)]
    assert layer_widths(cfg, input_shape, NUM_CLASSES) == expected


def test_extraction_is_batched_without_changing_the_result():
    cfg, family, module, inputs = _build("timm")
    whole = extract_representations(family, module, inputs.numpy(), cfg.layers, batch_size=4)
    pieces = extract_representations(family, module, inputs.numpy(), cfg.layers, batch_size=3)
    for a, b in zip(whole, pieces):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_p_above_the_narrowest_layer_names_it():
    rng = np.random.default_rng(0)
    layers = [rng.normal(size=(50, d)).astype(np.float32) for d in (64, 8, 16, 32)]
    with pytest.raises(UserInputError) as info:
        fit_preprocessor(layers, PreprocessConfig(p=10))
    message = str(info.value)
    assert message.startswith("preprocess.p: p=10 exceeds the narrowest layer x_1 (width 8)")
    assert "[64, 8, 16, 32]" in message and "choose p <= 8" in message


@pytest.mark.parametrize("case", sorted(ALL_MODEL_CASES))
def test_every_layer_depends_on_the_input_regression_hf_vit_constant_x0(case):
    # HF ViT's embedding output has an input-independent class token: with token=cls it made
    # x_0 constant and the KAE fit singular (hf-vision, first run). No layer may be constant.
    cfg, family, module, inputs = _build(case)
    layers = extract_representations(family, module, inputs.numpy(), LayerConfig(token="cls"))
    assert all(np.ptp(layer, axis=0).max() > 0 for layer in layers)
