"""The default copy-detection descriptor: classical features that need no downloaded weights.

An image becomes one L2-normalised float32 vector: uniform borders are trimmed, the rest is
resized to a square, normalised for brightness/contrast, and described by low-frequency DCT
coefficients of the luma (global and on a centre crop), a grid of gradient-orientation
histograms and a coarse chroma layout. Flips are handled by indexing the eval side in both
orientations (see `dedup.embed`); a PCA whitening (`dedup.whiten`) fitted on the data sharpens it.

    vec = describe(Image.open("cat.jpg"))
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["DescriptorConfig", "describe", "describe_batch", "decode", "DIM"]


@dataclass(frozen=True)
class DescriptorConfig:
    """Weights of the descriptor's feature blocks and its working resolution."""

    size: int = 64
    dct_keep: int = 10
    w_dct: float = 1.0
    w_centre: float = 0.7
    w_grad: float = 0.8
    w_colour: float = 0.4
    trim: bool = True


def decode(data: bytes, size: int = 128) -> Image.Image:
    """Decode image bytes to RGB, letting JPEG decode at reduced scale when it is large."""
    img = Image.open(io.BytesIO(data))
    img.draft("RGB", (size * 2, size * 2))
    return img.convert("RGB")


def _band(lines: np.ndarray, limit: int, tol: float = 12.0) -> int:
    """How many leading lines (at most `limit`) are flat and of the first line's colour."""
    n = 0
    colour = lines[0].mean(axis=0)
    while n < limit and lines[n].std(axis=0).max() < tol:
        if np.abs(lines[n].mean(axis=0) - colour).max() >= tol:
            break
        n += 1
    return n


def _trim_box(small: np.ndarray, rounds: int = 4) -> tuple[int, ...]:
    """(top, bottom, left, right) flat bands of a thumbnail, peeled side by side in rounds."""
    box = [0, 0, 0, 0]
    size = small.shape[0]
    for _ in range(rounds):
        top, bottom, left, right = box
        sub = small[top : size - bottom, left : size - right]
        lim = max(0, size // 3 - max(box))
        cols = sub.transpose(1, 0, 2)
        d = (_band(sub, lim), _band(sub[::-1], lim), _band(cols, lim), _band(cols[::-1], lim))
        if not any(d) or min(sub.shape[:2]) < size // 3:
            break
        box = [a + b for a, b in zip(box, d, strict=True)]
    return tuple(box)


def _dct_matrix(n: int, keep: int) -> np.ndarray:
    k = np.arange(keep)[:, None]
    x = np.arange(n)[None, :]
    return np.cos(np.pi * (2 * x + 1) * k / (2 * n)).astype(np.float32)


def _dct_block(luma: np.ndarray, keep: int) -> np.ndarray:
    m = _dct_matrix(luma.shape[0], keep)
    coef = m @ luma @ m.T
    coef[0, 0] = 0.0
    return coef.ravel()


def _grad_block(luma: np.ndarray, cells: int = 4, bins: int = 8) -> np.ndarray:
    gy, gx = np.gradient(luma)
    mag = np.sqrt(gx * gx + gy * gy)
    ang = np.floor((np.arctan2(gy, gx) + np.pi) / (2 * np.pi) * bins).astype(int) % bins
    n = luma.shape[0] // cells
    cell = (np.arange(luma.shape[0]) // n).clip(0, cells - 1)
    idx = (cell[:, None] * cells + cell[None, :]) * bins + ang
    hist = np.bincount(idx.ravel(), weights=mag.ravel(), minlength=cells * cells * bins)
    return np.sqrt(hist)


def _colour_block(rgb: np.ndarray, grid: int = 4) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    opp = np.stack([r - g, (r + g) / 2 - b], axis=-1)
    n = rgb.shape[0] // grid
    pooled = opp[: n * grid, : n * grid].reshape(grid, n, grid, n, 2).mean(axis=(1, 3))
    return (pooled - pooled.mean(axis=(0, 1))).ravel()


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-8)


def _square(arr: np.ndarray, size: int) -> np.ndarray:
    img = Image.fromarray(arr)
    return np.asarray(img.resize((size, size), Image.BILINEAR), dtype=np.float32)


def _trimmed(img: Image.Image) -> Image.Image:
    """`img` without its flat-colour borders (found on a 96x96 thumbnail)."""
    small = np.asarray(img.resize((96, 96), Image.BILINEAR), dtype=np.float32)
    top, bottom, left, right = _trim_box(small)
    if not (top or bottom or left or right):
        return img
    fw, fh = img.size
    box = (left * fw // 96, top * fh // 96, fw - right * fw // 96, fh - bottom * fh // 96)
    return img.crop(box)


def _norm_luma(rgb: np.ndarray) -> np.ndarray:
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return (luma - luma.mean()) / (luma.std() + 1e-3)


def describe(img: Image.Image, cfg: DescriptorConfig = DescriptorConfig()) -> np.ndarray:
    """The raw (unwhitened) descriptor of one image, L2-normalised."""
    img = img.convert("RGB")
    if cfg.trim:
        img = _trimmed(img)
    rgb = np.asarray(img.resize((cfg.size, cfg.size), Image.BILINEAR), dtype=np.float32)
    luma = _norm_luma(rgb)
    c = cfg.size // 8
    blocks = [
        cfg.w_dct * _unit(_dct_block(luma, cfg.dct_keep)),
        cfg.w_centre * _unit(_dct_block(luma[c:-c, c:-c], cfg.dct_keep)),
        cfg.w_grad * _unit(_grad_block(luma)),
        cfg.w_colour * _unit(_colour_block(rgb / (rgb.mean() + 1e-3))),
    ]
    return _unit(np.concatenate(blocks)).astype(np.float32)


def describe_batch(
    images: list[Image.Image], cfg: DescriptorConfig = DescriptorConfig()
) -> np.ndarray:
    """Raw descriptors of a list of images, shape (n, DIM)."""
    if not images:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.stack([describe(im, cfg) for im in images])


DIM = 2 * 10 * 10 + 4 * 4 * 8 + 4 * 4 * 2
