"""``timm:<name>``: any ``timm.create_model`` architecture, e.g. ``timm:resnet18``.

Layers x_0..x_{L-1} are the maps of ``forward_intermediates`` (stem or first block first); the
last layer x_L is the model's pre-logits vector (``forward_head(..., pre_logits=True)``: the pooled,
normalised final features that the classifier reads), so that ``head(module, x_L)`` is exactly the
model's own logits whatever pooling a suite picks for the other layers. Token maps of ViT-style
models keep their prefix (class) tokens in front, shape ``(batch, tokens, dim)``.

Inputs: images ``(C, H, W)`` in [0, 1]. The model is built with ``in_chans = C`` (timm adapts a
pretrained stem to that), inputs are resized to ``input_size`` if set and normalised with the
mean/std of the model's pretrained config (averaged over channels for grey images).

Example suite entry::

    - name: timm:vit_tiny_patch16_224
      options: {input_size: 32, model_kwargs: {img_size: 32, patch_size: 4, depth: 4}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from adapters.base import ModelFamily, register_model_family
from adapters.resmlp import select_layers
from harness.errors import UserInputError
from harness.registry import closest


class TimmOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra keyword arguments of timm.create_model (e.g. channels, dims, depth, img_size).",
    )
    input_size: int | None = Field(
        None, gt=0, description="Resize inputs to input_size x input_size (None: keep the dataset's size)."
    )
    normalise: bool = Field(True, description="Normalise with the mean/std of the model's pretrained config.")
    pretrained_file: str | None = Field(
        None,
        description="Local weights file used by weights='pretrained' instead of a hub download "
        "(timm's pretrained_cfg_overlay file=...).",
    )


def _base_name(arch: str) -> str:
    """``resnet18.a1_in1k`` -> ``resnet18`` (timm's pretrained tags)."""
    return arch.split(".", 1)[0]


def _create(arch: str, options: TimmOptions, num_classes: int, in_chans: int, pretrained: bool):
    import timm

    kwargs = dict(options.model_kwargs)
    if pretrained and options.pretrained_file:
        kwargs["pretrained_cfg_overlay"] = dict(file=options.pretrained_file)
    return timm.create_model(arch, pretrained=pretrained, num_classes=num_classes, in_chans=in_chans, **kwargs)


@register_model_family("timm")
class TimmFamily(ModelFamily):
    Options = TimmOptions

    def validate(self, arch, options):
        import timm

        if not arch:
            raise UserInputError("timm needs an architecture, e.g. timm:resnet18 (see timm.list_models())")
        if not timm.is_model(_base_name(arch)):
            suggestions = closest(_base_name(arch), timm.list_models(), n=8)
            raise UserInputError(
                f"Unknown timm model {arch!r}. Closest: {', '.join(suggestions) or '(none)'} "
                f"(all: timm.list_models())"
            )
        if options.pretrained_file is not None and not Path(options.pretrained_file).is_file():
            raise UserInputError(f"pretrained_file {options.pretrained_file!r} not found")
        # Build once on the meta device: catches bad model_kwargs now, costs no memory or time.
        import torch

        try:
            with torch.device("meta"):
                _create(arch, options, num_classes=2, in_chans=3, pretrained=False)
        except (TypeError, ValueError, AssertionError) as exc:
            raise UserInputError(f"timm:{arch} rejects model_kwargs {options.model_kwargs}: {exc}") from None

    def build(self, arch, options, num_classes, input_shape, pretrained):
        if len(input_shape) != 3:
            raise UserInputError(
                f"timm:{arch} needs image data (channels, height, width); the dataset gives shape {input_shape}"
            )
        try:
            module = _create(arch, options, num_classes, input_shape[0], pretrained)
        except (OSError, RuntimeError) as exc:
            if not pretrained:
                raise
            raise RuntimeError(
                f"timm:{arch}: cannot load pretrained weights ({type(exc).__name__}: {exc}); this machine "
                "may be offline: set options.pretrained_file to a local weights file"
            ) from exc
        channels = input_shape[0]
        mean, std = module.pretrained_cfg.get("mean"), module.pretrained_cfg.get("std")
        if not options.normalise or mean is None or std is None:
            mean, std = (0.0,) * channels, (1.0,) * channels
        elif channels != len(mean):
            mean, std = (sum(mean) / len(mean),) * channels, (sum(std) / len(std),) * channels
        # Plain attributes (not buffers): rebuilt by build(), so checkpoints hold weights only.
        module.koopbench_input = {"size": options.input_size, "mean": tuple(mean), "std": tuple(std)}
        return module

    def prepare_inputs(self, module, inputs):
        import torch.nn.functional as F

        spec = module.koopbench_input
        x = inputs
        if spec["size"] is not None and tuple(x.shape[-2:]) != (spec["size"], spec["size"]):
            x = F.interpolate(x, size=(spec["size"], spec["size"]), mode="bilinear", align_corners=False)
        mean = x.new_tensor(spec["mean"]).view(1, -1, 1, 1)
        std = x.new_tensor(spec["std"]).view(1, -1, 1, 1)
        return (x - mean) / std

    def layer_maps(self, module, inputs, indices):
        import torch

        prefix = getattr(module, "num_prefix_tokens", 0)
        if prefix:  # ViT-style: token maps (B, N, D) with the prefix tokens in front
            final, pairs = module.forward_intermediates(
                inputs, norm=False, output_fmt="NLC", return_prefix_tokens=True
            )
            maps = [torch.cat([tokens_prefix, tokens], dim=1) for tokens, tokens_prefix in pairs]
        else:
            final, maps = module.forward_intermediates(inputs, norm=False)
        maps = list(maps[:-1]) + [module.forward_head(final, pre_logits=True)]
        return [maps[i] for i in select_layers(len(maps), indices)]

    def head(self, module, last):
        return module.get_classifier()(last)
