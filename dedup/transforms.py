"""The alterations that copies of images undergo on the web, as pure, seeded PIL functions.

Used to make synthetic copies for threshold calibration (`dedup.calibrate`), for the
descriptor's robustness tests and for `bench/dedup.py`:

    copy = apply("crop15", image, seed=3)
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

__all__ = ["TRANSFORMS", "MILD", "HARD", "apply", "as_shard_jpeg"]

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
}
MILD = ("resize", "jpeg50", "crop10", "hflip", "mild_combo")
HARD = ("jpeg30", "crop15", "rotate", "colour", "border", "text")


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
