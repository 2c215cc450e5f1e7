"""Stage 4: the Koopman autoencoder (KAE) surrogate of the layer dynamics x_0 -> x_L.

Encoder phi: R^p -> R^m (Linear, LeakyReLU(0.01), Linear), decoder the mirror, and the operator
K = expm(M / k) in R^{m x m}, applied k times from x_0 to x_L (so K^k = expm(M)). Observables
are row vectors: one step is z -> z K^T, and the edit of :mod:`harness.unlearning` acts on
A = (K^T)^k. Loss = l1 L_recon + l2 L_linear + l3 L_state + l4 L_dist (DESIGN.md section 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from harness.config import SurrogateConfig
from harness.network import iterate_batches

LOSS_NAMES = ("recon", "linear", "state", "dist")


class KoopmanAutoencoder(nn.Module):
    """phi, phi^-1 and M; ``power(t)`` is K^t = expm(M t / k), an ``(m, m)`` tensor."""

    def __init__(self, p: int, hidden: int, m: int, k: int):
        super().__init__()
        self.k = k
        self.encoder = nn.Sequential(nn.Linear(p, hidden), nn.LeakyReLU(0.01), nn.Linear(hidden, m))
        self.decoder = nn.Sequential(nn.Linear(m, hidden), nn.LeakyReLU(0.01), nn.Linear(hidden, p))
        self.generator = nn.Parameter(torch.zeros(m, m))

    def power(self, t: float) -> torch.Tensor:
        """K^t ``(m, m)``; t = k gives the map from x_0 to x_L."""
        return torch.linalg.matrix_exp(self.generator * (t / self.k))

    def advance(self, observables: torch.Tensor, t: float) -> torch.Tensor:
        """Apply K t times to row observables ``(n, m)``: ``observables @ (K^t)^T``."""
        return observables @ self.power(t).T

    def forward(self, z0: torch.Tensor) -> torch.Tensor:
        """Predicted last layer ``(n, p)`` from preprocessed first layer ``(n, p)``."""
        return self.decoder(self.advance(self.encoder(z0), self.k))


def layer_iterates(n_layers: int, k: int) -> list[int]:
    """Iterate t_l matched to layer l: evenly spaced, t_0 = 0, t_L = k."""
    return [round(l * k / (n_layers - 1)) for l in range(n_layers)]


def _isometry_loss(x: torch.Tensor, observables: torch.Tensor) -> torch.Tensor:
    return (torch.nn.functional.pdist(observables) - torch.nn.functional.pdist(x)).pow(2).mean()


def kae_losses(
    model: KoopmanAutoencoder, layers: list[torch.Tensor], cfg: SurrogateConfig
) -> dict[str, torch.Tensor]:
    """The four loss terms on a minibatch of preprocessed layers (each ``(b, p)``)."""
    mse = torch.nn.functional.mse_loss
    first, last = layers[0], layers[-1]
    phi_first, phi_last = model.encoder(first), model.encoder(last)
    if cfg.alignment == "all_layers" and len(layers) > 2:
        targets = list(zip(layer_iterates(len(layers), model.k)[1:], layers[1:]))
    else:
        targets = [(model.k, last)]
    linear = state = 0.0
    for t, layer in targets:
        advanced = model.advance(phi_first, t)
        linear = linear + mse(advanced, model.encoder(layer) if layer is not last else phi_last)
        state = state + mse(model.decoder(advanced), layer)
    return {
        "recon": 0.5 * (mse(model.decoder(phi_first), first) + mse(model.decoder(phi_last), last)),
        "linear": linear / len(targets),
        "state": state / len(targets),
        "dist": 0.5 * (_isometry_loss(first, phi_first) + _isometry_loss(last, phi_last)),
    }


@dataclass
class TrainedKAE:
    model: KoopmanAutoencoder
    history: dict[str, list[float]] = field(default_factory=dict)  # per-epoch mean of each loss


def triangular_lr(step: int, total: int, warmup_fraction: float) -> float:
    """Multiplier of the peak LR: 0 -> 1 over the warm-up steps, then linear decay to 0."""
    warmup = max(1, int(total * warmup_fraction))
    if step < warmup:
        return step / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def train_kae(layers: list[np.ndarray], cfg: SurrogateConfig, seed: int, device: str = "cpu") -> TrainedKAE:
    """Fit a KAE to preprocessed training layers ``layers[l]`` of shape ``(n, p)``.

    AdamW with weight decay on the weight matrices only (not biases, not M), triangular LR.
    Deterministic given ``seed``.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    p = layers[0].shape[1]
    model = KoopmanAutoencoder(p, cfg.hidden, cfg.m, cfg.k).to(device)
    with torch.no_grad():  # a small random generator so K starts near, not at, the identity
        model.generator.normal_(0.0, 0.01)
    decay = [prm for name, prm in model.named_parameters() if name.endswith("weight")]
    no_decay = [prm for name, prm in model.named_parameters() if not name.endswith("weight")]
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
    )
    n = layers[0].shape[0]
    total = cfg.epochs * math.ceil(n / cfg.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: triangular_lr(step, total, cfg.warmup_fraction)
    )
    tensors = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device) for x in layers]
    weights = dict(zip(LOSS_NAMES, cfg.loss_weights))
    history: dict[str, list[float]] = {name: [] for name in LOSS_NAMES}
    model.train()
    for _ in range(cfg.epochs):
        sums = dict.fromkeys(LOSS_NAMES, 0.0)
        batches = 0
        for batch in iterate_batches(n, cfg.batch_size, generator):
            if len(batch) < 2:
                continue
            batch = batch.to(device)
            losses = kae_losses(model, [x[batch] for x in tensors], cfg)
            total_loss = sum(weights[name] * losses[name] for name in LOSS_NAMES)
            optimiser.zero_grad(set_to_none=True)
            total_loss.backward()
            optimiser.step()
            schedule.step()
            for name in LOSS_NAMES:
                sums[name] += float(losses[name].detach())
            batches += 1
        for name in LOSS_NAMES:
            history[name].append(sums[name] / max(batches, 1))
    return TrainedKAE(model=model.eval(), history=history)


@torch.inference_mode()
def evaluate_losses(model: KoopmanAutoencoder, layers: list[np.ndarray], cfg: SurrogateConfig) -> dict[str, float]:
    """The four loss terms on full (e.g. held-out) preprocessed layers, as floats."""
    device = model.generator.device
    tensors = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device) for x in layers]
    return {name: float(value) for name, value in kae_losses(model, tensors, cfg).items()}


@torch.inference_mode()
def encode(model: KoopmanAutoencoder, z: np.ndarray) -> np.ndarray:
    """Observables ``(n, m)`` of preprocessed points ``(n, p)``."""
    device = model.generator.device
    return model.encoder(torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)).to(device)).cpu().numpy()


@torch.inference_mode()
def decode(model: KoopmanAutoencoder, observables: np.ndarray) -> np.ndarray:
    """Preprocessed points ``(n, p)`` of observables ``(n, m)``."""
    device = model.generator.device
    tensor = torch.from_numpy(np.ascontiguousarray(observables, dtype=np.float32)).to(device)
    return model.decoder(tensor).cpu().numpy()


@torch.inference_mode()
def operator_power(model: KoopmanAutoencoder, t: float) -> np.ndarray:
    """K^t as a float64 ``(m, m)`` array."""
    return model.power(t).double().cpu().numpy()
