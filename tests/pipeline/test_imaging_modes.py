"""`process_image` on every pixel mode, at its size limits, with the details a reject row keeps
(what the mutation run of pipeline/imaging.py found untested)."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from pipeline.imaging import ImageConfig, ImageRejected, process_image, thumbnail_jpeg
from pipeline.schema import Reason

CFG = ImageConfig()


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _pixel(body: bytes, cfg: ImageConfig = CFG) -> tuple[int, ...]:
    out = process_image(body, cfg)
    return Image.open(io.BytesIO(out.jpeg)).convert("RGB").getpixel((50, 50))


def _near(got: tuple[int, ...], want: tuple[int, ...]) -> bool:
    return all(abs(a - b) <= 6 for a, b in zip(got, want, strict=True))


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparent_pixels_become_white(mode: str) -> None:
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0)).convert(mode)
    assert _near(_pixel(_png(img)), (255, 255, 255)), mode


def test_palette_keeps_its_colours_and_transparency_is_white() -> None:
    img = Image.new("RGB", (100, 100), (204, 0, 51)).convert("P")  # a web-palette colour
    assert _near(_pixel(_png(img)), (204, 0, 51))
    clear = Image.new("P", (100, 100), 0)
    clear.info["transparency"] = 0
    assert _near(_pixel(_png(clear)), (255, 255, 255))


def test_sixteen_bit_greys_are_scaled_to_eight_bits() -> None:
    img = Image.new("I;16", (100, 100), 51400)  # 200 x 257: 200 in 8 bits
    assert _near(_pixel(_png(img)), (200, 200, 200))


def test_reject_details_name_what_was_wrong() -> None:
    cases = [
        (_png(Image.new("RGB", (20, 80))), Reason.IMAGE_TOO_SMALL, "20x80"),
        (_png(Image.new("RGB", (400, 100))), Reason.BAD_ASPECT_RATIO, "400x100"),
        (b"<html>not an image</html>", Reason.NOT_AN_IMAGE, "b'<html>not an ima'"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 50, Reason.CORRUPT_IMAGE, "Error"),
    ]
    for body, reason, detail in cases:
        with pytest.raises(ImageRejected) as err:
            process_image(body, CFG)
        assert err.value.reason == reason and detail in err.value.detail, err.value.detail
        assert str(err.value) == f"{reason}: {err.value.detail}"


def test_size_limits_are_inclusive() -> None:
    process_image(_png(Image.new("RGB", (64, 64))), CFG)  # min_image_size itself is kept
    process_image(_png(Image.new("RGB", (192, 64))), CFG)  # aspect ratio 3.0 itself is kept
    at_limit = ImageConfig(max_pixels=100 * 100)
    process_image(_png(Image.new("RGB", (100, 100))), at_limit)
    with pytest.raises(ImageRejected) as err:
        process_image(_png(Image.new("RGB", (101, 100))), at_limit)
    assert err.value.reason == Reason.DECOMPRESSION_BOMB and err.value.detail == "101x100 pixels"


def test_record_fields_and_encodings() -> None:
    body = _png(Image.new("RGB", (300, 200), (10, 200, 10)))
    out = process_image(body, ImageConfig(encode_format="png", image_size=100))
    assert out.sha256 == hashlib.sha256(body).hexdigest() and out.mime == "image/png"
    assert (out.width, out.height, out.ext) == (150, 100, "png")
    png = Image.open(io.BytesIO(out.jpeg))
    assert png.format == "PNG" and png.getpixel((5, 5)) == (10, 200, 10)  # lossless
    grown = process_image(body, ImageConfig(image_size=400, resize_only_if_bigger=False))
    assert (grown.width, grown.height) == (600, 400)
    noisy = Image.effect_noise((300, 300), 80).convert("RGB")
    low = process_image(_png(noisy), ImageConfig(jpeg_quality=20))
    high = process_image(_png(noisy), ImageConfig(jpeg_quality=95))
    assert len(low.jpeg) < len(high.jpeg) / 2  # the quality setting reaches the encoder


def test_jpeg_is_drafted_only_when_resizing() -> None:
    out = io.BytesIO()
    Image.radial_gradient("L").resize((1024, 1024)).convert("RGB").save(out, "JPEG")
    kept = process_image(out.getvalue(), ImageConfig(resize_mode="no"))
    assert (kept.width, kept.height) == (1024, 1024)
    small = process_image(out.getvalue(), ImageConfig(image_size=128))
    assert (small.width, small.height) == (128, 128)


def test_thumbnail_is_a_small_jpeg() -> None:
    thumb = Image.open(io.BytesIO(thumbnail_jpeg(Image.new("RGBA", (400, 200)), side=64)))
    assert thumb.format == "JPEG" and thumb.size == (64, 32) and thumb.mode == "RGB"
    assert Image.open(io.BytesIO(thumbnail_jpeg(Image.new("RGB", (400, 200))))).size == (128, 64)


def test_truncated_scan_data_is_corrupt_not_a_crash() -> None:
    out = io.BytesIO()
    Image.effect_noise((300, 300), 80).convert("RGB").save(out, "JPEG", quality=90)
    body = out.getvalue()[: len(out.getvalue()) * 3 // 5]  # headers intact, scan cut short
    with pytest.raises(ImageRejected) as err:
        process_image(body, ImageConfig(resize_mode="no"))
    assert err.value.reason == Reason.CORRUPT_IMAGE and "truncated" in err.value.detail


def test_a_riff_file_that_is_not_webp_is_not_an_image() -> None:
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40
    with pytest.raises(ImageRejected) as err:
        process_image(wav, CFG)
    assert err.value.reason == Reason.NOT_AN_IMAGE
