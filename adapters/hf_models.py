"""``hf:<source>``: Hugging Face ``transformers`` image classifiers (ViT, ResNet, ConvNeXt, Swin, ...).

``source`` is one of
- a model type of ``transformers`` (``hf:vit``, ``hf:resnet``, ``hf:convnext``, ``hf:swin``): a
  from-scratch config, ``options.config`` sets its fields (widths, depths, image_size, ...);
- a local directory holding ``config.json`` (and weights, for ``weights: pretrained``);
- a hub id (``hf:google/vit-base-patch16-224``): needs the hub, or the files in the local HF cache.

Layers x_0..x_{L-1} are ``output_hidden_states=True`` (for conv models the embedder/stem output
first; for token models from the first block on, as in timm, since the class token of the
embedding output does not depend on the input); the last layer x_L is
the input of the model's ``classifier`` (the pooled, normalised features it reads, captured by a
forward pre-hook), so ``head(module, x_L)`` is exactly the model's own logits.

Inputs: images ``(C, H, W)`` in [0, 1], resized to the config's ``image_size`` where it has one
(or ``options.input_size``), channels repeated or averaged to ``num_channels``, normalised with
``options.mean``/``options.std`` (default: the local directory's ``preprocessor_config.json``,
else 0.5/0.5).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from adapters.base import ModelFamily, register_model_family
from adapters.resmlp import select_layers
from harness.errors import UserInputError
from harness.registry import closest


class HFOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    config: dict[str, Any] = Field(
        default_factory=dict, description="Fields set on the model config (e.g. hidden_sizes, depths, image_size)."
    )
    input_size: int | None = Field(
        None, gt=0, description="Resize inputs to this square size (default: the config's image_size, if any)."
    )
    mean: list[float] | None = Field(None, description="Per-channel normalisation mean (default: see module doc).")
    std: list[float] | None = Field(None, description="Per-channel normalisation std.")


def image_model_types() -> list[str]:
    """Model types that ``AutoModelForImageClassification`` can build."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES

    return sorted(MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES)


def source_kind(arch: str) -> str:
    """``'type'`` (a transformers model type), ``'dir'`` (a local directory) or ``'hub'``."""
    if Path(arch).is_dir():
        return "dir"
    if "/" not in arch:
        return "type"
    return "hub"


def _resolve_config(arch: str, options: HFOptions, num_labels: int, num_channels: int | None):
    from transformers import CONFIG_MAPPING, AutoConfig

    kind = source_kind(arch)
    if kind == "type":
        config = CONFIG_MAPPING[arch]()
    else:
        try:
            config = AutoConfig.from_pretrained(arch)
        except OSError as exc:
            where = "local directory" if kind == "dir" else "hub id"
            raise UserInputError(
                f"could not resolve {where} {arch!r} (offline, or no such model: "
                f"{str(exc).splitlines()[0]}); from-scratch model types: {', '.join(image_model_types())}"
            ) from None
    unknown = [key for key in options.config if not hasattr(config, key)]
    if unknown:
        raise UserInputError(f"hf:{arch} config ({type(config).__name__}) has no field(s) {', '.join(unknown)}")
    for key, value in options.config.items():
        setattr(config, key, value)
    config.num_labels = num_labels
    if num_channels is not None and kind == "type" and "num_channels" not in options.config:
        config.num_channels = num_channels
    return config


def _default_normalisation(arch: str) -> tuple[list[float], list[float]] | None:
    path = Path(arch) / "preprocessor_config.json"
    if source_kind(arch) == "dir" and path.is_file():
        processor = json.loads(path.read_text())
        if "image_mean" in processor and "image_std" in processor:
            return processor["image_mean"], processor["image_std"]
    return None


@register_model_family("hf")
class HFFamily(ModelFamily):
    Options = HFOptions

    def validate(self, arch, options):
        if not arch:
            raise UserInputError("hf needs a model type, a local directory or a hub id, e.g. hf:vit")
        if source_kind(arch) == "type":
            types = image_model_types()
            if arch not in types:
                suggestions = closest(arch, types, n=8)
                raise UserInputError(
                    f"Unknown transformers image model type {arch!r}. Closest: {', '.join(suggestions) or '(none)'}; "
                    "or give a local directory or a hub id (owner/name)"
                )
        _resolve_config(arch, options, num_labels=2, num_channels=None)

    def build(self, arch, options, num_classes, input_shape, pretrained):
        from transformers import AutoModelForImageClassification

        if len(input_shape) != 3:
            raise UserInputError(f"hf:{arch} needs image data (channels, height, width); got shape {input_shape}")
        if pretrained and source_kind(arch) == "type":
            raise UserInputError(f"hf:{arch} is a from-scratch model type: it has no pretrained weights")
        config = _resolve_config(arch, options, num_classes, input_shape[0])
        if source_kind(arch) == "type" and hasattr(config, "image_size") and "image_size" not in options.config:
            config.image_size = options.input_size or input_shape[-1]  # from scratch: sized to the data
        if pretrained:
            module = AutoModelForImageClassification.from_pretrained(
                arch, config=config, ignore_mismatched_sizes=True
            )
        else:
            module = AutoModelForImageClassification.from_config(config)
        if not hasattr(module, "classifier"):
            raise UserInputError(f"hf:{arch} ({type(module).__name__}) has no 'classifier' head module")
        channels = getattr(config, "num_channels", input_shape[0])
        size = options.input_size or getattr(config, "image_size", None)
        size = size[0] if isinstance(size, (list, tuple)) else size
        normalisation = (options.mean, options.std) if options.mean and options.std else _default_normalisation(arch)
        mean, std = normalisation or ([0.5] * channels, [0.5] * channels)
        if len(mean) != channels:
            mean, std = [sum(mean) / len(mean)] * channels, [sum(std) / len(std)] * channels
        module.koopbench_input = {"size": size, "channels": channels, "mean": tuple(mean), "std": tuple(std)}
        return _LogitsOnly(module)

    def prepare_inputs(self, module, inputs):
        import torch.nn.functional as F

        spec = module.model.koopbench_input
        x = inputs
        if x.shape[1] != spec["channels"]:
            x = x.mean(dim=1, keepdim=True).expand(-1, spec["channels"], -1, -1)
        if spec["size"] is not None and tuple(x.shape[-2:]) != (spec["size"], spec["size"]):
            x = F.interpolate(x, size=(spec["size"], spec["size"]), mode="bilinear", align_corners=False)
        mean = x.new_tensor(spec["mean"]).view(1, -1, 1, 1)
        std = x.new_tensor(spec["std"]).view(1, -1, 1, 1)
        return (x - mean) / std

    def layer_maps(self, module, inputs, indices):
        captured: list[Any] = []
        hook = module.model.classifier.register_forward_pre_hook(lambda _, args: captured.append(args[0]))
        try:
            out = module.model(pixel_values=inputs, output_hidden_states=True)
        finally:
            hook.remove()
        hidden = list(out.hidden_states)
        if hidden[0].ndim == 3:  # token models: the embedding output's class token ignores the input
            hidden = hidden[1:]
        maps = hidden[:-1] + [captured[0].flatten(1)]
        return [maps[i] for i in select_layers(len(maps), indices)]

    def head(self, module, last):
        return module.model.classifier(last)


@functools.cache
def _logits_only_class():
    from torch import nn

    class LogitsOnly(nn.Module):
        """A transformers classifier whose ``forward(pixel_values)`` returns the logits tensor.

        Its checkpoints are the harness's own (keys prefixed ``model.``); a directory written by
        ``save_pretrained`` is loaded as ``hf:<dir>`` with ``weights: pretrained`` instead
        (transformers 5 renames keys on load).
        """

        def __init__(self, model: nn.Module):
            super().__init__()
            self.model = model

        def forward(self, pixel_values):
            return self.model(pixel_values=pixel_values).logits

    return LogitsOnly


def _LogitsOnly(model):  # noqa: N802  (the class is built lazily, so importing adapters stays cheap)
    return _logits_only_class()(model)
