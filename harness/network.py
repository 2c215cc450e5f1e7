"""Stage 1: obtain a trained classifier (train in the harness, load a checkpoint, or hub weights).

Pure functions of a :class:`ModelConfig` and the data; caching is the caller's business
(:mod:`harness.cell`). Checkpoints are read with safetensors or ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adapters import MODEL_FAMILIES, DataSplits, ModelFamily
from harness.config import ModelConfig, TrainConfig
from harness.errors import UserInputError


def family_of(cfg: ModelConfig) -> ModelFamily:
    return MODEL_FAMILIES.get(cfg.family)


def build_network(cfg: ModelConfig, data: DataSplits) -> torch.nn.Module:
    """An untrained (or hub-pretrained, if ``cfg.weights == 'pretrained'``) network for ``data``."""
    family = family_of(cfg)
    return family.build(
        cfg.arch,
        family.Options(**cfg.options),
        data.num_classes,
        data.input_shape,
        pretrained=cfg.weights == "pretrained",
    )


def load_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or a weights-only ``.pth``/``.pt`` file."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError("checkpoint not found", file=str(path))
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file: name it, say what it is not
        raise UserInputError(f"cannot read checkpoint ({type(exc).__name__}: {exc})", file=str(path)) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserInputError("checkpoint is not a state dict", file=str(path))
    return state


def save_checkpoint(module: torch.nn.Module, path: str | Path) -> None:
    """Write ``module``'s state dict as safetensors (contiguous CPU tensors)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path))


def apply_checkpoint(module: torch.nn.Module, state: dict[str, torch.Tensor], path: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:2]
        raise UserInputError(f"checkpoint does not fit the model: {' '.join(first)}", file=path) from None


def iterate_batches(n: int, batch_size: int, generator: torch.Generator | None = None):
    """Index batches over ``range(n)``; shuffled with ``generator`` if given."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def train_network(
    family: ModelFamily,
    module: torch.nn.Module,
    inputs: np.ndarray,
    labels: np.ndarray,
    cfg: TrainConfig,
    device: str = "cpu",
) -> torch.nn.Module:
    """Train with AdamW and a cosine schedule; deterministic given ``cfg.seed``.

    Args:
        inputs: ``(n, *input_shape)`` float32 dataset inputs.
        labels: ``(n,)`` int64 class labels.
    """
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    module.to(device).train()
    x = torch.from_numpy(inputs)
    y = torch.from_numpy(labels)
    optimiser = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(x) / cfg.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / max(steps, 1)))
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(cfg.epochs):
        for batch in iterate_batches(len(x), cfg.batch_size, generator):
            if len(batch) < 2:  # BatchNorm cannot train on one example
                continue
            xb = family.prepare_inputs(module, x[batch].to(device))
            loss = loss_fn(module(xb), y[batch].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    return module.eval()


@torch.inference_mode()
def predict_logits(
    family: ModelFamily, module: torch.nn.Module, inputs: np.ndarray, batch_size: int = 512, device: str = "cpu"
) -> np.ndarray:
    """Logits ``(n, num_classes)`` of the network on dataset inputs ``(n, *input_shape)``."""
    module.to(device).eval()
    x = torch.from_numpy(inputs)
    out = [
        module(family.prepare_inputs(module, x[b].to(device))).float().cpu()
        for b in iterate_batches(len(x), batch_size)
    ]
    return torch.cat(out).numpy()


def head_parameters(family: ModelFamily, module: torch.nn.Module, width: int) -> list[torch.nn.Parameter]:
    """The parameters that ``family.head`` reads: those that get a gradient from it."""
    module.zero_grad(set_to_none=True)
    family.head(module, torch.zeros(2, width, requires_grad=True)).sum().backward()
    found = [p for p in module.parameters() if p.grad is not None]
    module.zero_grad(set_to_none=True)
    return found


def refit_head(
    family: ModelFamily,
    module: torch.nn.Module,
    inputs: np.ndarray,
    labels: np.ndarray,
    cfg: TrainConfig,
    device: str = "cpu",
) -> torch.nn.Module:
    """Fit only the classifier head of a (hub-)pretrained network to the dataset's classes.

    The backbone is frozen: its last-layer vectors x_L ``(n, d)`` are computed once, then the
    parameters that ``family.head`` uses are trained on them with AdamW (``cfg`` epochs, lr,
    batch size, seed). The head reads x_L exactly as in the full network, so this is a linear
    probe of the pretrained features.
    """
    module.to(device).eval()
    x = torch.from_numpy(inputs)
    with torch.inference_mode():
        features = torch.cat([
            family.layer_maps(module, family.prepare_inputs(module, x[b].to(device)), [-1])[0].flatten(1).float()
            for b in iterate_batches(len(x), 256)
        ])
    features = features.clone()
    y = torch.from_numpy(labels).to(device)
    params = head_parameters(family, module, features.shape[1])
    for p in module.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    optimiser = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(cfg.epochs):
        for batch in iterate_batches(len(features), cfg.batch_size, generator):
            loss = loss_fn(family.head(module, features[batch]), y[batch])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    for p in module.parameters():
        p.requires_grad_(True)
    return module.eval()


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose argmax equals the label."""
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def obtain_network(cfg: ModelConfig, data: DataSplits, device: str = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained network of a cell and facts about it.

    ``weights='train'`` trains from scratch with ``cfg.train.seed``; a checkpoint path loads
    weights; ``'pretrained'`` loads hub (or the family's local pretrained) weights and refits only
    the classifier head on the training split (:func:`refit_head`; the backbone is not trained).

    Returns:
        ``(module, info)`` with info keys ``trained_in_harness`` (bool: trained from scratch here),
        ``weights`` and, for pretrained weights, ``head_refit``.
    """
    family = family_of(cfg)
    torch.manual_seed(cfg.train.seed)
    module = build_network(cfg, data)
    if cfg.weights == "train":
        inputs, labels = data.arrays("train")
        module = train_network(family, module, inputs, labels, cfg.train, device)
        return module, {"trained_in_harness": True, "weights": cfg.weights}
    if cfg.weights == "pretrained":
        inputs, labels = data.arrays("train")
        module = refit_head(family, module, inputs, labels, cfg.train, device)
        return module, {"trained_in_harness": False, "head_refit": True, "weights": cfg.weights}
    apply_checkpoint(module, load_checkpoint(cfg.weights), cfg.weights)
    return module.to(device).eval(), {"trained_in_harness": False, "weights": cfg.weights}
