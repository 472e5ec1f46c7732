"""Image decoding and augmentation with PIL and numpy only (torchvision does not import here).

`load_image(jpeg, size, box_fn)` decodes straight to a `size x size` uint8 HWC array: the crop box
is chosen from the header, the JPEG is decoded at the largest DCT reduction that still covers
the crop (`Image.draft`), and crop + resize happen in one `Image.resize(box=...)` call.
Normalisation (`normalize`) runs on whole batches, on the training device.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

__all__ = [
    "Box",
    "random_resized_box",
    "center_box",
    "load_image",
    "normalize",
    "MEAN",
    "STD",
]

Box = tuple[float, float, float, float]  # left, top, right, bottom (pixels)
MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's
STD = (0.26862954, 0.26130258, 0.27577711)
Image.MAX_IMAGE_PIXELS = 64_000_000  # a decompression bomb is a corrupt sample, not an OOM


def random_resized_box(
    width: int,
    height: int,
    rng: random.Random,
    scale: tuple[float, float] = (0.9, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Box:
    """A random crop of `scale` of the area and `ratio` aspect (torchvision's algorithm)."""
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = rng.randint(0, width - w)
            top = rng.randint(0, height - h)
            return (left, top, left + w, top + h)
    return center_box(width, height)


def center_box(width: int, height: int) -> Box:
    """The largest centred square."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


def load_image(data: bytes, size: int, box_fn: Callable[[int, int], Box]) -> np.ndarray:
    """Decode `data`, crop `box_fn(w, h)` and resize to (size, size, 3) uint8; raises if bad."""
    img = Image.open(io.BytesIO(data))
    width, height = img.size
    box = box_fn(width, height)
    reduce = min(box[2] - box[0], box[3] - box[1]) / size
    if reduce >= 2 and img.format == "JPEG":
        img.draft("RGB", (math.ceil(width / reduce), math.ceil(height / reduce)))
    fx, fy = width / img.size[0], height / img.size[1]
    box = (box[0] / fx, box[1] / fy, box[2] / fx, box[3] / fy)
    if img.mode != "RGB":
        img = img.convert("RGB")
    out = img.resize((size, size), Image.Resampling.BICUBIC, box=box)
    return np.asarray(out, dtype=np.uint8)


def normalize(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> normalised float (B, 3, H, W) in channels-last memory, same device."""
    scale = torch.tensor([1 / (255 * s) for s in STD], device=images.device, dtype=dtype)
    shift = torch.tensor(
        [m / s for m, s in zip(MEAN, STD, strict=True)], device=images.device, dtype=dtype
    )
    x = images.to(dtype).mul_(scale).sub_(shift)  # (x / 255 - mean) / std, one pass each
    return x.permute(0, 3, 1, 2)
