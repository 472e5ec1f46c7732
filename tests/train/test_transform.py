"""Decode, random resized crop and normalisation without torchvision."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import torch
from PIL import Image

from train.transform import MEAN, STD, center_box, load_image, normalize, random_resized_box


def _jpeg(w: int, h: int, colour=(200, 10, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_random_box_inside_image_with_scale() -> None:
    rng = random.Random(0)
    for _ in range(200):
        left, top, right, bottom = random_resized_box(256, 180, rng, scale=(0.5, 1.0))
        assert 0 <= left < right <= 256 and 0 <= top < bottom <= 180
        assert (right - left) * (bottom - top) <= 256 * 180


def test_center_box_is_square() -> None:
    assert center_box(200, 100) == (50, 0, 150, 100)


@pytest.mark.parametrize("size", [(256, 200), (40, 30)])
def test_load_image_gives_uint8_square(size: tuple[int, int]) -> None:
    out = load_image(_jpeg(*size), 32, center_box)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert abs(int(out[..., 0].mean()) - 200) < 8  # colour survives draft decoding


def test_grey_and_png_become_rgb() -> None:
    buf = io.BytesIO()
    Image.new("L", (20, 20), 99).save(buf, format="PNG")
    assert load_image(buf.getvalue(), 16, center_box).shape == (16, 16, 3)


def test_garbage_raises() -> None:
    with pytest.raises(OSError):
        load_image(b"not an image", 16, center_box)
    with pytest.raises(OSError):
        load_image(_jpeg(64, 64)[:200], 16, center_box)


def test_normalize_layout_and_values() -> None:
    images = torch.full((2, 4, 4, 3), 255, dtype=torch.uint8)
    out = normalize(images)
    assert out.shape == (2, 3, 4, 4)
    assert float(out[0, 1, 0, 0]) == pytest.approx((1 - MEAN[1]) / STD[1], rel=1e-5)
