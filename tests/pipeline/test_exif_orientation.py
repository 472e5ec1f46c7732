"""EXIF orientation: a photo stored sideways with an Orientation tag comes out upright.

The stored pixels are a 240x120 image, red on the left half and blue on the right. Each EXIF
orientation (1-8) says how a viewer must turn it; the expected upright corners are worked out
here from the TIFF definition of the tag, not from Pillow.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from pipeline.imaging import ImageConfig, process_image

RED, BLUE = (255, 0, 0), (0, 0, 255)

# Orientation -> (upright size is portrait?, colour of the upright top-left, of the bottom-right)
# 1: as stored. 2: mirrored. 3: turned 180. 4: flipped vertically. 5: transposed.
# 6: turned 90 clockwise to view (stored left column becomes the top row). 7: transversed.
# 8: turned 90 counter-clockwise to view (stored left column becomes the bottom row).
_UPRIGHT = {
    1: (False, RED, BLUE),
    2: (False, BLUE, RED),
    3: (False, BLUE, RED),
    4: (False, RED, BLUE),
    5: (True, RED, BLUE),
    6: (True, RED, BLUE),
    7: (True, BLUE, RED),
    8: (True, BLUE, RED),
}


def _sideways_jpeg(orientation: int) -> bytes:
    img = Image.new("RGB", (240, 120), RED)
    img.paste(BLUE, (120, 0, 240, 120))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def _close(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(pixel, colour, strict=True))


@pytest.mark.parametrize("orientation", sorted(_UPRIGHT))
def test_exif_orientation_is_applied(orientation):
    out = process_image(_sideways_jpeg(orientation), ImageConfig(image_size=64))
    portrait, top_left, bottom_right = _UPRIGHT[orientation]
    img = Image.open(io.BytesIO(out.jpeg))
    assert (img.height > img.width) == portrait, img.size
    assert (out.width, out.height) == img.size
    assert _close(img.getpixel((2, 2)), top_left), img.getpixel((2, 2))
    assert _close(img.getpixel((img.width - 3, img.height - 3)), bottom_right)
