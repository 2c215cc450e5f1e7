"""The paper's residual MLP: stem Linear + BatchNorm + activation, residual blocks, linear head.

Yin-Yang: ``width=10, depth=5`` on 2 inputs; MNIST: ``width=784, depth=4`` on 784 inputs.
Layers: x_0 is the stem's output, x_l the output of block l, x_L (= x_depth) feeds the head.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.base import ModelFamily, register_model_family


class ResMLPOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(10, gt=0, description="Width of the stem and of every block.")
    depth: int = Field(5, gt=0, description="Number of residual blocks.")
    activation: Literal["relu", "gelu", "tanh"] = Field("relu", description="Nonlinearity.")
    batchnorm: bool = Field(True, description="BatchNorm after each linear layer.")


def select_layers(n_layers: int, indices: int | list[int] | None) -> list[int]:
    """timm's convention: None = all, an int n = the last n, a list = these (negatives allowed)."""
    if indices is None:
        return list(range(n_layers))
    if isinstance(indices, int):
        return list(range(n_layers - indices, n_layers))
    return [i % n_layers for i in indices]


def _build_module(options: ResMLPOptions, in_features: int, num_classes: int):
    import torch
    from torch import nn

    activations = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}

    def unit(n_in: int) -> nn.Sequential:
        norm = nn.BatchNorm1d(options.width) if options.batchnorm else nn.Identity()
        return nn.Sequential(nn.Linear(n_in, options.width), norm, activations[options.activation]())

    class ResMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = unit(in_features)
            self.blocks = nn.ModuleList(unit(options.width) for _ in range(options.depth))
            self.head = nn.Linear(options.width, num_classes)

        def forward_layers(self, x: torch.Tensor) -> list[torch.Tensor]:
            x = self.stem(x.flatten(1))
            layers = [x]
            for block in self.blocks:
                x = x + block(x)
                layers.append(x)
            return layers

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.forward_layers(x)[-1])

    return ResMLP()


@register_model_family("resmlp")
class ResMLPFamily(ModelFamily):
    Options = ResMLPOptions

    def build(self, arch, options, num_classes, input_shape, pretrained):
        in_features = 1
        for size in input_shape:
            in_features *= size
        return _build_module(options, in_features, num_classes)

    def layer_maps(self, module, inputs, indices):
        layers = module.forward_layers(inputs)
        return [layers[i] for i in select_layers(len(layers), indices)]

    def head(self, module, last):
        return module.head(last)
