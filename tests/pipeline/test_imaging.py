import io

import pytest
from PIL import Image

from pipeline.imaging import ImageConfig, ImageRejected, process_image, sniff_mime
from pipeline.sampleweb import _bomb_png
from pipeline.schema import Reason

CFG = ImageConfig()


def _encode(size, fmt="JPEG", mode="RGB"):
    out = io.BytesIO()
    Image.new(mode, size, 128).save(out, fmt)
    return out.getvalue()


def test_sniff_from_magic_bytes_not_headers():
    assert sniff_mime(_encode((8, 8), "PNG")) == "image/png"
    assert sniff_mime(_encode((8, 8), "JPEG")) == "image/jpeg"
    assert sniff_mime(_encode((8, 8), "WEBP")) == "image/webp"
    assert sniff_mime(b"<!doctype html>") == ""


def test_resize_keeps_ratio_and_never_upscales():
    big = process_image(_encode((1600, 800)), CFG)
    assert (big.width, big.height) == (512, 256)
    assert (big.original_width, big.original_height) == (1600, 800)
    small = process_image(_encode((100, 80), "PNG"), CFG)
    assert (small.width, small.height) == (100, 80) and small.mime == "image/png"
    assert Image.open(io.BytesIO(small.jpeg)).format == "JPEG"


def test_rgba_and_palette_are_flattened():
    out = process_image(_encode((100, 100), "PNG", "RGBA"), CFG)
    assert Image.open(io.BytesIO(out.jpeg)).mode == "RGB"


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"<html>not an image</html>", Reason.NOT_AN_IMAGE),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 500, Reason.CORRUPT_IMAGE),
        (_encode((300, 300))[:400], Reason.CORRUPT_IMAGE),  # truncated
        (_encode((20, 20)), Reason.IMAGE_TOO_SMALL),
        (_encode((400, 100)), Reason.BAD_ASPECT_RATIO),
        (_bomb_png(), Reason.DECOMPRESSION_BOMB),
    ],
)
def test_bad_images_are_rejected_with_reason(body, reason):
    with pytest.raises(ImageRejected) as err:
        process_image(body, CFG)
    assert err.value.reason == reason


def test_output_is_deterministic():
    body = _encode((700, 500))
    assert process_image(body, CFG).jpeg == process_image(body, CFG).jpeg
