"""Stage 2: layer representations x_0..x_L of a trained network, as float32 matrices.

Conv maps ``(B, C, H, W)`` are pooled (average, max, or flattened), token maps ``(B, N, D)``
reduced by the class token or the mean, vectors ``(B, D)`` kept. Batched, under
``torch.inference_mode``.
"""

from __future__ import annotations

import numpy as np
import torch

from adapters import ModelFamily
from harness.config import LayerConfig
from harness.network import iterate_batches


def pool(rep: torch.Tensor, cfg: LayerConfig) -> torch.Tensor:
    """Reduce one layer's map to vectors ``(batch, d)``."""
    if rep.ndim == 2:
        return rep
    if rep.ndim == 3:  # tokens (B, N, D)
        return rep[:, 0] if cfg.token == "cls" else rep.mean(dim=1)
    if cfg.pooling == "flatten":
        return rep.flatten(1)
    spatial = tuple(range(2, rep.ndim))
    return rep.mean(dim=spatial) if cfg.pooling == "avg" else rep.amax(dim=spatial)


@torch.inference_mode()
def extract_representations(
    family: ModelFamily,
    module: torch.nn.Module,
    inputs: np.ndarray,
    cfg: LayerConfig,
    batch_size: int = 256,
    device: str = "cpu",
) -> list[np.ndarray]:
    """Per-layer representations of ``inputs`` ``(n, *input_shape)``: a list of ``(n, d_l)`` float32."""
    module.to(device).eval()
    x = torch.from_numpy(inputs)
    per_layer: list[list[np.ndarray]] | None = None
    for batch in iterate_batches(len(x), batch_size):
        maps = family.layer_maps(module, family.prepare_inputs(module, x[batch].to(device)), cfg.indices)
        vectors = [pool(m, cfg).float().cpu().numpy() for m in maps]
        per_layer = [[v] for v in vectors] if per_layer is None else [p + [v] for p, v in zip(per_layer, vectors)]
    return [np.concatenate(chunks).astype(np.float32) for chunks in per_layer or []]


@torch.inference_mode()
def head_logits(family: ModelFamily, module: torch.nn.Module, last: np.ndarray, device: str = "cpu") -> np.ndarray:
    """The network's real head applied to last-layer vectors ``(n, d_L)``: logits ``(n, classes)``."""
    module.to(device).eval()
    out = family.head(module, torch.from_numpy(np.array(last, dtype=np.float32)).to(device))
    return out.float().cpu().numpy()
