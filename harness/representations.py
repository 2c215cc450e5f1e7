"""Stage 2: layer representations x_0..x_L of a trained network, as float32 matrices.

Conv maps ``(B, C, H, W)`` are pooled (average, max, or flattened), token maps ``(B, N, D)``
reduced by the class token or the mean, vectors ``(B, D)`` kept. Batched, under
``torch.inference_mode``.
"""

from __future__ import annotations

import numpy as np
import torch

from adapters import MODEL_FAMILIES, ModelFamily
from harness.config import LayerConfig, ModelConfig
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
    """Per-layer representations of ``inputs`` ``(n, *input_shape)``: a list of ``(n, d_l)`` float32.

    Batched; each layer's output array is allocated once after the first batch and filled in
    place, so peak memory is the representations themselves plus one batch of maps.
    """
    module.to(device).eval()
    x = torch.from_numpy(inputs)
    out: list[np.ndarray] = []
    for batch in iterate_batches(len(x), batch_size):
        maps = family.layer_maps(module, family.prepare_inputs(module, x[batch].to(device)), cfg.indices)
        vectors = [pool(m, cfg).float().cpu().numpy() for m in maps]
        if not out:
            out = [np.empty((len(x), v.shape[1]), dtype=np.float32) for v in vectors]
        for array, v in zip(out, vectors):
            array[batch.numpy()] = v
    return out


def layer_widths(cfg: ModelConfig, input_shape: tuple[int, ...], num_classes: int) -> list[int]:
    """Widths d_0..d_L of a model's pooled representations, from one forward pass of two zero inputs.

    Builds an untrained network (no download, no checkpoint read), so a suite can check
    ``preprocess.p`` against the narrowest layer before any work starts.
    """
    family = MODEL_FAMILIES.get(cfg.family)
    module = family.build(cfg.arch, family.Options(**cfg.options), num_classes, tuple(input_shape), pretrained=False)
    zeros = np.zeros((2, *input_shape), dtype=np.float32)
    return [r.shape[1] for r in extract_representations(family, module, zeros, cfg.layers)]


@torch.inference_mode()
def head_logits(family: ModelFamily, module: torch.nn.Module, last: np.ndarray, device: str = "cpu") -> np.ndarray:
    """The network's real head applied to last-layer vectors ``(n, d_L)``: logits ``(n, classes)``."""
    module.to(device).eval()
    out = family.head(module, torch.from_numpy(np.array(last, dtype=np.float32)).to(device))
    return out.float().cpu().numpy()
