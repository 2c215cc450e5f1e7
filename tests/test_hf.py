"""Hugging Face family: model types, local directories, hub ids resolved up to the network."""

from __future__ import annotations

import pytest
import torch

from adapters import MODEL_FAMILIES
from harness.config import ModelConfig
from harness.errors import UserInputError
from harness.network import build_network

TINY_VIT = {"hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16,
            "patch_size": 4}


class _Shape:
    def __init__(self, input_shape, num_classes=3):
        self.input_shape, self.num_classes = input_shape, num_classes


def _validate(arch, **options):
    family = MODEL_FAMILIES.get("hf")
    family.validate(arch, family.Options(**options))


def test_unknown_model_type_lists_the_closest():
    with pytest.raises(UserInputError) as info:
        _validate("vitt")
    assert "Unknown transformers image model type 'vitt'" in str(info.value)
    assert "vit" in str(info.value)


def test_unknown_config_field_is_refused():
    with pytest.raises(UserInputError, match="no field"):
        _validate("vit", config={"hiddn_size": 8})


def test_hub_id_offline_says_it_could_not_be_resolved():
    # AutoConfig.from_pretrained, the real hub path, up to the download (conftest: HF_HUB_OFFLINE=1).
    with pytest.raises(UserInputError, match="could not resolve hub id 'google/vit-base-patch16-224'"):
        _validate("google/vit-base-patch16-224")


def test_local_directory_round_trip_with_save_pretrained(tmp_path):
    """A directory written by save_pretrained builds (config) and loads (weights, pretrained)."""
    torch.manual_seed(0)
    cfg = ModelConfig(name="hf:vit", options={"config": TINY_VIT})
    family = MODEL_FAMILIES.get("hf")
    module = build_network(cfg, _Shape((1, 16, 16))).eval()
    module.model.save_pretrained(tmp_path / "model")
    (tmp_path / "model" / "preprocessor_config.json").write_text('{"image_mean": [0.2], "image_std": [0.3]}')
    _validate(str(tmp_path / "model"))
    local = ModelConfig(name=f"hf:{tmp_path / 'model'}", weights="pretrained")
    loaded = build_network(local, _Shape((1, 16, 16))).eval()
    assert loaded.model.koopbench_input["mean"] == (0.2,)
    x = torch.rand(2, 1, 16, 16)
    with torch.inference_mode():
        expected = module.model(pixel_values=(x - 0.2) / 0.3).logits
        result = loaded(family.prepare_inputs(loaded, x))
    torch.testing.assert_close(result, expected)


def test_model_type_has_no_pretrained_weights():
    with pytest.raises(UserInputError, match="no pretrained weights"):
        build_network(ModelConfig(name="hf:vit", weights="pretrained"), _Shape((1, 16, 16)))
