"""img2dataset's resize modes at their edges: where the crop and the border fall to the pixel,
which filter scales each way, degenerate sizes (what the mutation run found untested)."""

from __future__ import annotations

import pytest
from PIL import Image

from pipeline.resize import resize, target_size


def _columns(w: int, h: int) -> Image.Image:
    """Column x has red = x % 256 and green = x // 256: every column is identifiable."""
    img = Image.new("RGB", (w, h))
    img.putdata([(x % 256, x // 256, 0) for _ in range(h) for x in range(w)])
    return img


def test_only_if_bigger_is_the_default_and_can_be_turned_off() -> None:
    assert target_size(100, 80, 256, "keep_ratio") == (100, 80)
    small = Image.new("RGB", (100, 80))
    assert resize(small, 256, "keep_ratio").size == (100, 80)
    assert resize(small, 256, "keep_ratio", only_if_bigger=False).size == (320, 256)


def test_degenerate_sides_keep_at_least_one_pixel() -> None:
    assert target_size(1000, 1, 10, "keep_ratio_largest") == (10, 1)
    assert target_size(1, 1000, 10, "keep_ratio_largest") == (1, 10)


def test_unknown_mode_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="resize mode must be one of .* not 'stretch'"):
        resize(Image.new("RGB", (10, 10)), 8, "stretch")


def test_downscaling_averages_areas_and_upscaling_is_bicubic() -> None:
    stripes = _columns(600, 300)
    down = resize(stripes, 100, "keep_ratio")
    assert down.tobytes() == stripes.resize((200, 100), Image.Resampling.BOX).tobytes()
    wide = _columns(300, 50)  # upscaled: the new height is still below the old width
    up = resize(wide, 256, "keep_ratio", only_if_bigger=False)
    assert up.tobytes() == wide.resize((1536, 256), Image.Resampling.BICUBIC).tobytes()


@pytest.mark.parametrize("width", [400, 403])  # an odd margin: the crop starts at its floor
def test_center_crop_is_centred_to_the_pixel(width: int) -> None:
    out = resize(_columns(width, 256), 256, "center_crop")
    left = (width - 256) // 2
    assert out.size == (256, 256)
    assert out.getpixel((0, 0)) == (left % 256, left // 256, 0)
    assert out.getpixel((255, 255)) == ((left + 255) % 256, (left + 255) // 256, 0)


def test_center_crop_of_a_tall_image() -> None:
    tall = _columns(403, 256).transpose(Image.Transpose.TRANSPOSE)  # 256 x 403, row y known
    out = resize(tall, 256, "center_crop")
    assert out.size == (256, 256) and out.getpixel((0, 0)) == (73, 0, 0)


@pytest.mark.parametrize(("size_in", "box"), [((800, 400), (0, 64, 256, 192)),
                                              ((400, 800), (64, 0, 192, 256))])  # fmt: skip
def test_border_centres_the_image(size_in: tuple[int, int], box: tuple[int, ...]) -> None:
    out = resize(Image.new("RGB", size_in, (0, 0, 0)), 256, "border")
    left, top, right, bottom = box
    assert out.size == (256, 256)
    assert out.getpixel((left, top)) == (0, 0, 0) == out.getpixel((right - 1, bottom - 1))
    outside = (left - 1, top) if left else (left, top - 1)
    assert out.getpixel(outside) == (255, 255, 255)
    after = (right, bottom - 1) if left else (right - 1, bottom)
    assert out.getpixel(after) == (255, 255, 255)
