"""The alterations that copies of images undergo on the web, as pure, seeded PIL functions.

Used to make synthetic copies for threshold calibration (`dedup.calibrate`), for the
descriptor's robustness tests and for `bench/dedup.py`:

    copy = apply("crop15", image, seed=3)
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

__all__ = ["TRANSFORMS", "MILD", "HARD", "WEB", "apply", "as_shard_jpeg"]

Transform = Callable[[Image.Image, random.Random], Image.Image]


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _resize(img: Image.Image, rng: random.Random) -> Image.Image:
    scale = rng.uniform(0.35, 0.6)
    w, h = img.size
    return img.resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.BILINEAR)


def _crop(img: Image.Image, rng: random.Random, keep: float) -> Image.Image:
    w, h = img.size
    cw, ch = round(w * keep), round(h * keep)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return img.crop((x, y, x + cw, y + ch))


def _rotate(img: Image.Image, rng: random.Random) -> Image.Image:
    angle = rng.choice([-1, 1]) * rng.uniform(3.0, 6.0)
    rot = img.rotate(angle, resample=Image.BILINEAR, expand=False)
    w, h = img.size
    m = 0.11  # cut the black corners that a <= 6 degree turn leaves
    return rot.crop((round(w * m), round(h * m), round(w * (1 - m)), round(h * (1 - m))))


def _colour(img: Image.Image, rng: random.Random) -> Image.Image:
    img = ImageEnhance.Brightness(img).enhance(rng.choice([0.7, 1.3]))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.75, 1.25))
    return ImageEnhance.Color(img).enhance(rng.uniform(0.5, 1.5))


def _border(img: Image.Image, rng: random.Random) -> Image.Image:
    w, h = img.size
    pad = round(min(w, h) * rng.uniform(0.06, 0.12))
    fill = rng.choice([(0, 0, 0), (255, 255, 255), (200, 30, 30)])
    return ImageOps.expand(img, border=pad, fill=fill)


def _text(img: Image.Image, rng: random.Random) -> Image.Image:
    img = img.copy()
    w, h = img.size
    font = ImageFont.load_default(size=max(10, h // 9))
    draw = ImageDraw.Draw(img)
    words = rng.choice(["SALE -50%", "www.example.com", "(c) photo agency", "MEME TEXT HERE"])
    y = rng.choice([h // 20, h - h // 6])
    draw.text(
        (w // 20, y), words, fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0)
    )
    return img


def _combo(img: Image.Image, rng: random.Random) -> Image.Image:
    img = _crop(_resize(img, rng), rng, 0.92)
    return _jpeg(ImageOps.mirror(img), 50)


def _rotate10(img: Image.Image, rng: random.Random) -> Image.Image:
    """Turned by up to 10 degrees on a flat background, the corners left in."""
    angle = rng.choice([-1, 1]) * rng.uniform(2.0, 10.0)
    fill = rng.choice([(0, 0, 0), (255, 255, 255)])
    return img.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=fill)


def _pad(img: Image.Image, rng: random.Random) -> Image.Image:
    """Letterboxed: padding up to a third of the image on two opposite sides."""
    w, h = img.size
    fill = rng.choice([(0, 0, 0), (255, 255, 255), (30, 30, 30)])
    share = rng.uniform(0.15, 1 / 3)  # padding / final size
    if rng.random() < 0.5:
        pad = round(h * share / (1 - share) / 2)
        return ImageOps.expand(img, border=(0, pad, 0, pad), fill=fill)
    pad = round(w * share / (1 - share) / 2)
    return ImageOps.expand(img, border=(pad, 0, pad, 0), fill=fill)


def _stretch(img: Image.Image, rng: random.Random) -> Image.Image:
    w, h = img.size
    f = rng.uniform(1.2, 1.5)
    return img.resize((round(w * f), h) if rng.random() < 0.5 else (w, round(h * f)))


def _gamma(img: Image.Image, rng: random.Random) -> Image.Image:
    g = rng.choice([rng.uniform(0.5, 0.75), rng.uniform(1.4, 2.0)])
    img = img.point([round(255 * (i / 255) ** g) for i in range(256)] * 3)
    return ImageEnhance.Contrast(img).enhance(rng.uniform(0.6, 1.5))


def _thumb(img: Image.Image, rng: random.Random) -> Image.Image:
    """Blurred, then downscaled to a thumbnail (shorter side 64-96 px)."""
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 2.0)))
    w, h = img.size
    s = rng.uniform(64, 96) / min(w, h)
    return img.resize((max(8, round(w * s)), max(8, round(h * s))), Image.BILINEAR)


def _watermark(img: Image.Image, rng: random.Random) -> Image.Image:
    """A semi-transparent tiled watermark plus a caption bar."""
    w, h = img.size
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=max(10, h // 12))
    mark = rng.choice(["(c) STOCK", "PREVIEW", "example.com"])
    for y in range(h // 8, h, h // 3):
        draw.text((w // 10 + (y % 37), y), mark, fill=(255, 255, 255, 110), font=font)
    out = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    return _text(out, rng)


def _crop20(img: Image.Image, rng: random.Random) -> Image.Image:
    return _crop(img, rng, rng.uniform(0.8, 0.9))


def _mirror_crop(img: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.mirror(_crop(img, rng, rng.uniform(0.8, 0.92)))


def _web_combo(img: Image.Image, rng: random.Random) -> Image.Image:
    """Crop, small turn, stretch, colour and a caption, then JPEG 40."""
    img = _crop(img, rng, rng.uniform(0.85, 0.95))
    img = img.rotate(rng.uniform(-5, 5), resample=Image.BICUBIC, expand=True)
    w, h = img.size
    img = img.resize((round(w * rng.uniform(1.0, 1.25)), h))
    img = _text(_gamma(img, rng), rng)
    return _jpeg(ImageOps.mirror(img) if rng.random() < 0.5 else img, 40)


def _gray(img: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.grayscale(img).convert("RGB")


TRANSFORMS: dict[str, Transform] = {
    "resize": _resize,
    "jpeg50": lambda im, r: _jpeg(im, 50),
    "jpeg30": lambda im, r: _jpeg(im, 30),
    "crop10": lambda im, r: _crop(im, r, 0.90),
    "crop15": lambda im, r: _crop(im, r, 0.85),
    "hflip": lambda im, r: ImageOps.mirror(im),
    "rotate": _rotate,
    "colour": _colour,
    "border": _border,
    "text": _text,
    "mild_combo": _combo,
    "rotate10": _rotate10,
    "pad33": _pad,
    "stretch": _stretch,
    "gray": _gray,
    "gamma": _gamma,
    "thumb": _thumb,
    "jpeg25": lambda im, r: _jpeg(im, 25),
    "watermark": _watermark,
    "crop20": _crop20,
    "mirror_crop": _mirror_crop,
    "web_combo": _web_combo,
}
MILD = ("resize", "jpeg50", "crop10", "hflip", "mild_combo")
HARD = ("jpeg30", "crop15", "rotate", "colour", "border", "text")
# The edits copies undergo on the web (issue #15's recall table): bench/dedup.py measures each.
WEB = (
    "rotate10",
    "pad33",
    "stretch",
    "gray",
    "gamma",
    "thumb",
    "jpeg25",
    "watermark",
    "text",
    "crop20",
    "mirror_crop",
    "web_combo",
)


def apply(name: str, img: Image.Image, seed: int = 0) -> Image.Image:
    """Apply transform `name` to an RGB image with a seeded random generator."""
    return TRANSFORMS[name](img.convert("RGB"), random.Random(f"{name}:{seed}"))


def as_shard_jpeg(img: Image.Image, max_side: int = 256, quality: int = 90) -> bytes:
    """Encode `img` as the pipeline stores it: shorter side <= `max_side`, RGB JPEG."""
    img = img.convert("RGB")
    w, h = img.size
    scale = max_side / min(w, h)
    if scale < 1:
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
