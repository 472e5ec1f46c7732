import io

import pytest
from PIL import Image

from pipeline.imaging import ImageConfig, process_image
from pipeline.resize import resize, target_size


@pytest.mark.parametrize(
    "mode, size_in, size_out",
    [
        ("no", (800, 400), (800, 400)),
        ("keep_ratio", (800, 400), (512, 256)),
        ("keep_ratio", (100, 80), (100, 80)),  # never upscaled by default
        ("keep_ratio_largest", (800, 400), (256, 128)),
        ("center_crop", (800, 400), (256, 256)),
        ("border", (800, 400), (256, 256)),
    ],
)
def test_resize_modes(mode, size_in, size_out):
    assert resize(Image.new("RGB", size_in), 256, mode).size == size_out


def test_upscale_when_asked():
    assert target_size(100, 80, 256, "keep_ratio", only_if_bigger=False) == (320, 256)


def test_border_pads_with_white():
    out = resize(Image.new("RGB", (800, 400), (0, 0, 0)), 256, "border")
    assert out.getpixel((0, 0)) == (255, 255, 255) and out.getpixel((128, 128)) == (0, 0, 0)


def test_draft_mode_jpeg_matches_full_decode_closely():
    src = Image.radial_gradient("L").resize((2048, 1536)).convert("RGB")
    buf = io.BytesIO()
    src.save(buf, "JPEG", quality=90)
    out = process_image(buf.getvalue(), ImageConfig())
    assert (out.width, out.height) == (341, 256) and (out.original_width, out.original_height) == (
        2048,
        1536,
    )
    full = src.resize((341, 256), Image.Resampling.LANCZOS)
    got = Image.open(io.BytesIO(out.jpeg)).convert("RGB")
    diff = sum(abs(a - b) for a, b in zip(got.tobytes(), full.tobytes(), strict=False)) / len(
        full.tobytes()
    )
    assert diff < 4  # mean absolute error per channel, out of 255


@pytest.mark.parametrize("fmt, magic", [("webp", b"RIFF"), ("png", b"\x89PNG")])
def test_encode_formats(fmt, magic):
    buf = io.BytesIO()
    Image.new("RGB", (300, 300)).save(buf, "JPEG")
    out = process_image(buf.getvalue(), ImageConfig(encode_format=fmt))
    assert out.jpeg.startswith(magic) and out.ext == fmt
