"""Unlearning references on the real network (DESIGN.md section 2, step 7; issue 4).

- ``retrain``: the gold standard. The network stage's own training (:func:`harness.network.obtain_network`,
  same architecture, training config and seed) on the training split without the forget class.
  A network loaded from a checkpoint is retrained from scratch with its training config.
- ``finetune``: the trained network, further trained on the retained training set only
  (:func:`harness.network.train_network`, ``finetune_epochs`` at ``finetune_lr``, by default the
  network's own learning rate).
- ``ascent``: gradient ascent on the forget set with a retained term: each step minimises
  ``-CE(forget batch) + retain_weight * CE(retain batch)`` (AdamW); stops once the forget class's
  TRAINING accuracy is at most ``ascent_stop_accuracy`` (checked after each pass) or after
  ``ascent_max_epochs`` passes.
- ``logit_mask``: the trivial oracle: the forget class's logit set to -inf. It costs nothing,
  scores a perfect forget accuracy and shows how much of an accuracy score is free.

Pure functions of their inputs and configs; caching is the caller's (:mod:`harness.cell`).
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch

from adapters import DataSplits, ModelFamily
from harness.config import ModelConfig, TrainConfig, UnlearningConfig
from harness.network import iterate_batches, obtain_network, predict_logits, train_network

NETWORK_METHODS = ("retrain", "finetune", "ascent")
"""References that produce a new network (and so are trained, timed and cached)."""


def without_class(data: DataSplits, forget_class: int) -> DataSplits:
    """``data`` with the forget class removed from the training split (held-out split unchanged)."""
    _, labels = data.arrays("train")
    keep = np.flatnonzero(labels != forget_class)
    return DataSplits(train=data.train.select(keep), test=data.test, num_classes=data.num_classes,
                      class_names=data.class_names, input_shape=data.input_shape)


def retrain_without(cfg: ModelConfig, data: DataSplits, forget_class: int, device: str = "cpu") -> torch.nn.Module:
    """The network trained from scratch, by the network stage's code, on the retained training set."""
    if cfg.weights not in ("train", "pretrained"):
        cfg = cfg.model_copy(update={"weights": "train"})
    module, _ = obtain_network(cfg, without_class(data, forget_class), device)
    return module


def finetune_retained(
    family: ModelFamily, module: torch.nn.Module, inputs: np.ndarray, labels: np.ndarray, forget_class: int,
    train: TrainConfig, cfg: UnlearningConfig, device: str = "cpu",
) -> torch.nn.Module:
    """A copy of ``module`` trained further on the retained training points only."""
    keep = labels != forget_class
    schedule = train.model_copy(update={"epochs": cfg.finetune_epochs, "lr": cfg.finetune_lr or train.lr})
    return train_network(family, copy.deepcopy(module), inputs[keep], labels[keep], schedule, device)


def gradient_ascent(
    family: ModelFamily, module: torch.nn.Module, inputs: np.ndarray, labels: np.ndarray, forget_class: int,
    train: TrainConfig, cfg: UnlearningConfig, device: str = "cpu",
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A copy of ``module`` after gradient ascent on the forget set with a retained term.

    Returns:
        ``(module, info)``, info ``ascent_epochs`` (passes run) and ``ascent_train_forget_acc``.
    """
    torch.manual_seed(train.seed)
    generator = torch.Generator().manual_seed(train.seed)
    module = copy.deepcopy(module).to(device)
    forget_idx = np.flatnonzero(labels == forget_class)
    retain_idx = np.flatnonzero(labels != forget_class)
    x, y = torch.from_numpy(inputs), torch.from_numpy(labels)
    optimiser = torch.optim.AdamW(module.parameters(), lr=cfg.ascent_lr, weight_decay=0.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    batch_size = min(train.batch_size, len(forget_idx))

    def forget_accuracy() -> float:
        logits = predict_logits(family, module, inputs[forget_idx], device=device)
        return float(np.mean(np.argmax(logits, axis=1) == forget_class))

    epochs, accuracy = 0, forget_accuracy()
    while accuracy > cfg.ascent_stop_accuracy and epochs < cfg.ascent_max_epochs:
        module.train()
        for batch in iterate_batches(len(forget_idx), batch_size, generator):
            if len(batch) < 2:
                continue
            f = torch.from_numpy(forget_idx[batch.numpy()])
            r = torch.from_numpy(retain_idx[torch.randint(len(retain_idx), (len(batch),), generator=generator).numpy()])
            loss = -loss_fn(module(family.prepare_inputs(module, x[f].to(device))), y[f].to(device))
            if cfg.ascent_retain_weight > 0:
                retain_logits = module(family.prepare_inputs(module, x[r].to(device)))
                loss = loss + cfg.ascent_retain_weight * loss_fn(retain_logits, y[r].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        epochs += 1
        accuracy = forget_accuracy()
    return module.eval(), {"ascent_epochs": epochs, "ascent_train_forget_acc": accuracy}


def mask_logits(logits: np.ndarray, forget_class: int) -> np.ndarray:
    """The logit-mask oracle: logits ``(n, classes)`` with the forget class's column at -inf."""
    masked = np.array(logits, dtype=np.float64, copy=True)
    masked[:, forget_class] = -np.inf
    return masked


def fit_reference(
    method: str, model_cfg: ModelConfig, family: ModelFamily, module: torch.nn.Module, data: DataSplits,
    forget_class: int, cfg: UnlearningConfig, device: str = "cpu",
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """One network reference (``retrain``, ``finetune`` or ``ascent``), timed: ``(module, info)``."""
    inputs, labels = data.arrays("train")
    start = time.perf_counter()
    info: dict[str, Any] = {}
    if method == "retrain":
        result = retrain_without(model_cfg, data, forget_class, device)
    elif method == "finetune":
        result = finetune_retained(family, module, inputs, labels, forget_class, model_cfg.train, cfg, device)
    elif method == "ascent":
        result, info = gradient_ascent(family, module, inputs, labels, forget_class, model_cfg.train, cfg, device)
    else:
        raise ValueError(f"unknown network reference {method!r}; expected one of {NETWORK_METHODS}")
    info["seconds"] = time.perf_counter() - start
    return result, info
