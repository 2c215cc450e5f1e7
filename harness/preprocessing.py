"""Stage 3: the paper's per-layer preprocessing, with its inverse for the last layer.

Per layer l, statistics fitted on the training split only:
centre (subtract mean_l), project onto the top-p principal directions V_l ``(d_l, p)``, divide by
s_l = ||X_l V_l||_F / scale, and rotate onto the last layer with the orthogonal Procrustes
rotation R_l ``(p, p)`` (R_L = I). So z = ((x - mean) V / s) R, and for the last layer the inverse
x_L ~ z s V^T + mean maps a surrogate prediction back to where the network's head can read it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.config import PreprocessConfig
from harness.errors import UserInputError


@dataclass(frozen=True)
class LayerMap:
    mean: np.ndarray  # (d,)
    basis: np.ndarray  # (d, p), orthonormal columns
    scale: float  # s, so that the projected training matrix has ||.||_F = cfg.scale
    rotation: np.ndarray  # (p, p), orthogonal


@dataclass(frozen=True)
class Preprocessor:
    """Fitted preprocessing of every layer; ``transform(l, x)`` and ``inverse_last(z)``."""

    layers: tuple[LayerMap, ...]

    def transform(self, layer: int, x: np.ndarray) -> np.ndarray:
        """``(n, d_l)`` layer-l representations -> ``(n, p)`` preprocessed coordinates."""
        m = self.layers[layer]
        return (((x - m.mean) @ m.basis) / m.scale @ m.rotation).astype(np.float32)

    def transform_all(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [self.transform(i, x) for i, x in enumerate(xs)]

    def inverse_last(self, z: np.ndarray) -> np.ndarray:
        """``(n, p)`` coordinates in the last layer's frame -> ``(n, d_L)`` last-layer vectors."""
        m = self.layers[-1]
        return ((z @ m.rotation.T) * m.scale @ m.basis.T + m.mean).astype(np.float32)


def _principal_basis(centred: np.ndarray, p: int) -> np.ndarray:
    # SVD of the (n, d) matrix; sign-fixed so the basis is deterministic.
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    basis = vt[:p].T
    signs = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(basis.shape[1])])
    return basis * np.where(signs == 0, 1, signs)


def procrustes_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Orthogonal R ``(p, p)`` minimising ||source R - target||_F (both ``(n, p)``)."""
    u, _, vt = np.linalg.svd(source.T.astype(np.float64) @ target.astype(np.float64))
    return u @ vt


def check_p(p: int, shapes: list[tuple[int, int]]) -> None:
    """Raise if ``p`` exceeds some layer's rank limit; ``shapes[l]`` is ``(n_train, width_l)``.

    Raises:
        UserInputError: naming the narrowest layer, with every layer's width.
    """
    limits = [min(shape) for shape in shapes]
    if p > min(limits):
        narrowest = int(np.argmin(limits))
        n, width = shapes[narrowest]
        what = f"width {width}" if width <= n else f"only {n} training points"
        raise UserInputError(
            f"p={p} exceeds the narrowest layer x_{narrowest} ({what}); layer widths x_0..x_{len(shapes) - 1}: "
            f"{[shape[1] for shape in shapes]}; choose p <= {min(limits)}",
            key="preprocess.p",
        )


def fit_preprocessor(layers: list[np.ndarray], cfg: PreprocessConfig) -> Preprocessor:
    """Fit on training representations ``layers[l]`` of shape ``(n, d_l)``.

    Raises:
        UserInputError: if ``cfg.p`` exceeds the narrowest layer (naming it, with every layer's width).
    """
    check_p(cfg.p, [x.shape for x in layers])
    fitted = []
    for x in layers:
        mean = x.mean(axis=0, dtype=np.float64)
        basis = _principal_basis(x - mean, cfg.p)
        projected = (x - mean) @ basis
        scale = float(np.linalg.norm(projected) / cfg.scale) or 1.0
        fitted.append((mean, basis, scale, projected / scale))
    last = fitted[-1][3]
    maps = []
    for mean, basis, scale, z in fitted:
        rotation = procrustes_rotation(z, last) if cfg.procrustes else np.eye(cfg.p)
        maps.append(LayerMap(mean=mean, basis=basis, scale=scale, rotation=rotation))
    maps[-1] = LayerMap(mean=maps[-1].mean, basis=maps[-1].basis, scale=maps[-1].scale, rotation=np.eye(cfg.p))
    return Preprocessor(layers=tuple(maps))
