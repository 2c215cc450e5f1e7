"""timm family: names checked at the edge, pretrained weights from a local file, head refit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adapters import MODEL_FAMILIES
from harness.config import ModelConfig, TrainConfig
from harness.errors import UserInputError
from harness.network import build_network, head_parameters, refit_head, save_checkpoint

TINY = {"channels": [4, 8, 8, 16], "stem_width": 4}


class _Shape:
    def __init__(self, input_shape, num_classes=3):
        self.input_shape, self.num_classes = input_shape, num_classes


def _validate(arch, **options):
    family = MODEL_FAMILIES.get("timm")
    family.validate(arch, family.Options(**options))


def test_unknown_timm_name_lists_the_closest():
    with pytest.raises(UserInputError) as info:
        _validate("resnet181")
    assert "Unknown timm model 'resnet181'" in str(info.value)
    assert "resnet18" in str(info.value) and "resnet101" in str(info.value)


def test_pretrained_tag_is_a_valid_name():
    _validate("resnet18.a1_in1k", model_kwargs=TINY)


def test_bad_model_kwargs_are_refused_at_the_edge():
    with pytest.raises(UserInputError, match="rejects model_kwargs"):
        _validate("resnet18", model_kwargs={"no_such_argument": 1})


def test_missing_pretrained_file_is_refused(tmp_path):
    with pytest.raises(UserInputError, match="not found"):
        _validate("resnet18", pretrained_file=str(tmp_path / "w.safetensors"))


def test_hub_pretrained_offline_says_how_to_use_a_local_file():
    # The real hub path (timm -> huggingface_hub) up to the download; conftest sets HF_HUB_OFFLINE.
    cfg = ModelConfig(name="timm:resnet18", weights="pretrained", options={"model_kwargs": TINY})
    with pytest.raises(RuntimeError, match="pretrained_file"):
        build_network(cfg, _Shape((1, 16, 16)))


def test_local_pretrained_file_loads_adapts_the_stem_and_drops_the_head(tmp_path):
    import timm

    torch.manual_seed(0)
    source = timm.create_model("resnet18", num_classes=1000, **TINY)  # an ImageNet-shaped checkpoint
    path = tmp_path / "resnet18.safetensors"
    save_checkpoint(source, path)
    cfg = ModelConfig(name="timm:resnet18", weights="pretrained",
                      options={"model_kwargs": TINY, "pretrained_file": str(path)})
    module = build_network(cfg, _Shape((1, 16, 16)))
    # timm sums an RGB stem over its channels for a grey input; the body is copied as is.
    torch.testing.assert_close(module.conv1.weight, source.conv1.weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(module.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
    assert module.fc.out_features == 3


def test_refit_head_trains_only_the_head():
    torch.manual_seed(0)
    cfg = ModelConfig(name="timm:resnet18", options={"model_kwargs": TINY})
    family = MODEL_FAMILIES.get("timm")
    module = build_network(cfg, _Shape((1, 16, 16))).eval()
    head = {id(p) for p in head_parameters(family, module, 16)}
    assert head == {id(module.fc.weight), id(module.fc.bias)}
    before = {name: p.detach().clone() for name, p in module.named_parameters()}
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 64)
    inputs = (rng.random((64, 1, 16, 16)) * 0.2 + labels[:, None, None, None] * 0.4).astype(np.float32)

    def loss() -> float:
        with torch.inference_mode():
            logits = module(family.prepare_inputs(module, torch.from_numpy(inputs)))
        return float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels)))

    loss_before = loss()
    refit_head(family, module, inputs, labels, TrainConfig(epochs=30, lr=0.05, batch_size=16))
    changed = {name for name, p in module.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"fc.weight", "fc.bias"}
    assert loss() < 0.8 * loss_before


def test_inputs_are_resized_and_normalised_from_the_pretrained_config():
    cfg = ModelConfig(name="timm:resnet18", options={"model_kwargs": TINY, "input_size": 32})
    family = MODEL_FAMILIES.get("timm")
    module = build_network(cfg, _Shape((1, 8, 8)))
    result = family.prepare_inputs(module, torch.full((2, 1, 8, 8), 0.5))
    mean, std = np.mean((0.485, 0.456, 0.406)), np.mean((0.229, 0.224, 0.225))
    assert result.shape == (2, 1, 32, 32)
    torch.testing.assert_close(result, torch.full((2, 1, 32, 32), float((0.5 - mean) / std)))
