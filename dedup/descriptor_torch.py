"""The classical descriptor (`dedup.descriptor`) in torch, batched, for GPUs (CPU works too).

Same vectors as `describe` within float tolerance: resizes are torch's antialiased bilinear
(PIL's filter) rounded to uint8 as PIL does; flat borders are found from the same 96x96
thumbnail, with the exact peeling of `descriptor._trim_box` run only for the images whose
edges are flat (few photos). Images of one size are resized in one call.

    vecs = TorchDescriptor(device="cuda").describe(list_of_pil_images)   # (n, DIM) float32
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from PIL import Image

from dedup.descriptor import DIM, DescriptorConfig, _dct_matrix, _trim_box

__all__ = ["TorchDescriptor"]


class TorchDescriptor:
    """Batched classical descriptors on `device`."""

    def __init__(self, cfg: DescriptorConfig = DescriptorConfig(), device: str = "cpu") -> None:
        import torch

        self.torch, self.cfg, self.device = torch, cfg, torch.device(device)
        n, c = cfg.size, cfg.size // 8
        self.m = torch.from_numpy(_dct_matrix(n, cfg.dct_keep)).to(self.device)
        self.mc = torch.from_numpy(_dct_matrix(n - 2 * c, cfg.dct_keep)).to(self.device)
        self.luma_w = torch.tensor([0.299, 0.587, 0.114], device=self.device)

    def _resize(self, x, size: tuple[int, int]):  # type: ignore[no-untyped-def]
        """(N, 3, H, W) uint8-valued floats -> (N, 3, h, w), as PIL's BILINEAR + rounding."""
        f = self.torch.nn.functional
        return f.interpolate(x, size=size, mode="bilinear", antialias=True).round().clamp(0, 255)

    def _squares(self, images: Sequence[Image.Image]):  # type: ignore[no-untyped-def]
        """(N, size, size, 3) float tensors of the trimmed images, in input order."""
        torch, s = self.torch, self.cfg.size
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        arrays = [np.asarray(im.convert("RGB")) for im in images]
        for i, a in enumerate(arrays):
            groups[a.shape[:2]].append(i)
        out = torch.empty((len(images), 3, s, s), device=self.device)
        for idx in groups.values():
            x = torch.from_numpy(np.stack([arrays[i] for i in idx])).to(self.device)
            out[idx] = self.squares_of_batch(x)
        return out.permute(0, 2, 3, 1)

    def squares_of_batch(self, batch):  # type: ignore[no-untyped-def]
        """(N, H, W, 3) uint8 images of one size (a device tensor) -> (N, 3, s, s) trimmed."""
        s = self.cfg.size
        x = batch.permute(0, 3, 1, 2).float()
        boxes = self._boxes(x) if self.cfg.trim else [None] * len(x)
        out = self._resize(x, (s, s))
        for j, b in enumerate(boxes):
            if b is not None:
                out[j] = self._resize(x[j : j + 1, :, b[0] : b[1], b[2] : b[3]], (s, s))[0]
        return out

    def _boxes(self, x) -> list:  # type: ignore[no-untyped-def]
        """Per image, None (nothing to trim) or the (y0, y1, x0, x1) crop of `_trimmed`."""
        small = self._resize(x, (96, 96)).permute(0, 2, 3, 1)  # N, 96, 96, 3
        edges = [small[:, 0], small[:, -1], small[:, :, 0], small[:, :, -1]]
        flat = self.torch.stack([e.std(dim=1, unbiased=False).amax(dim=1) < 12.0 for e in edges])
        boxes: list = [None] * len(x)
        fh, fw = x.shape[2], x.shape[3]
        for j in self.torch.nonzero(flat.any(dim=0)).flatten().tolist():
            top, bottom, left, right = _trim_box(small[j].cpu().numpy())
            if top or bottom or left or right:
                boxes[j] = (
                    top * fh // 96,
                    fh - bottom * fh // 96,
                    left * fw // 96,
                    fw - right * fw // 96,
                )
        return boxes

    def describe(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Raw descriptors, shape (n, DIM), float32, unit norm (as `describe_batch`)."""
        if not images:
            return np.zeros((0, DIM), np.float32)
        return self.describe_squares(self._squares(images)).cpu().numpy()

    def describe_squares(self, rgb):  # type: ignore[no-untyped-def]
        """Descriptors of (N, size, size, 3) trimmed, resized images (a device tensor)."""
        torch, cfg = self.torch, self.cfg
        luma = rgb @ self.luma_w
        mean = luma.mean(dim=(1, 2), keepdim=True)
        luma = (luma - mean) / (luma.std(dim=(1, 2), keepdim=True, unbiased=False) + 1e-3)
        c = cfg.size // 8
        colour = rgb / (rgb.mean(dim=(1, 2, 3), keepdim=True) + 1e-3)
        blocks = [
            cfg.w_dct * _unit(self._dct(luma, self.m)),
            cfg.w_centre * _unit(self._dct(luma[:, c:-c, c:-c], self.mc)),
            cfg.w_grad * _unit(self._grad(luma)),
            cfg.w_colour * _unit(self._colour(colour)),
        ]
        return _unit(torch.cat(blocks, dim=1))

    def _dct(self, luma, m):  # type: ignore[no-untyped-def]
        coef = m @ luma @ m.T
        coef[:, 0, 0] = 0.0
        return coef.flatten(1)

    def _grad(self, luma, cells: int = 4, bins: int = 8):  # type: ignore[no-untyped-def]
        torch = self.torch
        gy, gx = torch.gradient(luma, dim=(1, 2))
        mag = torch.sqrt(gx * gx + gy * gy)
        ang = torch.floor((torch.atan2(gy, gx) + np.pi) / (2 * np.pi) * bins).long() % bins
        n, size = luma.shape[0], luma.shape[1]
        cell = (torch.arange(size, device=luma.device) // (size // cells)).clamp(max=cells - 1)
        idx = (cell[:, None] * cells + cell[None, :]) * bins + ang
        width = cells * cells * bins
        idx = idx + (torch.arange(n, device=luma.device) * width)[:, None, None]
        hist = torch.zeros(n * width, device=luma.device).index_add_(
            0, idx.flatten(), mag.flatten()
        )
        return torch.sqrt(hist.view(n, width))

    def _colour(self, rgb, grid: int = 4):  # type: ignore[no-untyped-def]
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        opp = self.torch.stack([r - g, (r + g) / 2 - b], dim=-1)
        n, size = rgb.shape[0], rgb.shape[1] // grid
        pooled = opp[:, : size * grid, : size * grid].reshape(n, grid, size, grid, size, 2)
        pooled = pooled.mean(dim=(2, 4))
        return (pooled - pooled.mean(dim=(1, 2), keepdim=True)).flatten(1)


def _unit(v):  # type: ignore[no-untyped-def]
    return v / (v.norm(dim=1, keepdim=True) + 1e-8)
