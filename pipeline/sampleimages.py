"""Procedural images for the bundled sample web: shapes, colours, textures and scenes.

Every picture comes with a caption that says what is drawn, in words of `DEMO_QUERIES`, and is a
pure function of its `random.Random` state, so the sample web is deterministic by seed.

    img, caption = render_picture(random.Random(0), 320, 240)
"""

from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageDraw, ImageFilter

__all__ = [
    "COLOURS",
    "SHAPES",
    "SCENES",
    "DEMO_QUERIES",
    "render_picture",
    "render_eval_image",
    "encode",
    "alter_copy",
]

COLOURS = {
    "red": (220, 30, 40),
    "green": (40, 170, 60),
    "blue": (30, 70, 210),
    "yellow": (240, 210, 30),
    "orange": (245, 140, 20),
    "purple": (130, 50, 170),
    "pink": (245, 130, 180),
    "black": (20, 20, 20),
    "white": (245, 245, 245),
    "gray": (128, 128, 128),
    "brown": (120, 75, 35),
}
SHAPES = ("circle", "square", "triangle", "star", "ring", "diamond", "cross", "hexagon")
TEXTURES = ("striped", "dotted", "checkered")
SCENES = ("sunset", "mountains", "sea", "forest", "desert", "night sky")
DEMO_QUERIES = (
    list(COLOURS)
    + list(SHAPES)
    + [s + "s" for s in SHAPES]
    + list(TEXTURES)
    + ["sunset", "mountains", "sea", "forest", "desert", "night sky", "sky", "sun", "moon", "trees"]
    + ["background", "pattern", "stripes", "dots"]
    + [f"{c} {s}" for c in COLOURS for s in SHAPES]
)


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        n, radius = 4, [r] * 4
        angle += math.pi / 4
    elif shape == "triangle":
        n, radius = 3, [r] * 3
    elif shape == "diamond":
        n, radius = 4, [r, r * 0.6, r, r * 0.6]
    elif shape == "hexagon":
        n, radius = 6, [r] * 6
    else:  # star
        n, radius = 10, [r if i % 2 == 0 else r * 0.45 for i in range(10)]
    return [
        (
            cx + radius[i] * math.cos(angle + 2 * math.pi * i / n),
            cy + radius[i] * math.sin(angle + 2 * math.pi * i / n),
        )
        for i in range(n)
    ]


def _draw_shape(
    draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float], colour, rng
) -> None:
    cx, cy, r = box
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif shape == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=max(2, int(r / 4)))
    elif shape == "cross":
        w = r / 3
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=colour)
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=colour)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, rng.uniform(0, math.pi)), fill=colour)


def _texture(draw: ImageDraw.ImageDraw, texture: str, size: tuple[int, int], colour) -> None:
    w, h = size
    step = max(6, min(w, h) // 12)
    for i in range(0, max(w, h) * 2, step):
        if texture == "striped" and (i // step) % 2 == 0:
            draw.rectangle((i, 0, i + step // 2, h), fill=colour)
        elif texture == "dotted":
            for j in range(0, h, step):
                draw.ellipse((i, j, i + step // 3, j + step // 3), fill=colour)
        elif texture == "checkered":
            for j in range(0, h, step):
                if ((i + j) // step) % 2 == 0:
                    draw.rectangle((i, j, i + step, j + step), fill=colour)


def _shapes_picture(rng: random.Random, w: int, h: int) -> tuple[Image.Image, str]:
    fg_name, bg_name = rng.sample(list(COLOURS), 2)
    shape = rng.choices(SHAPES, weights=[8, 5, 4, 3, 2, 2, 1, 1])[0]
    count = rng.choice([1, 1, 1, 2, 3])
    img = Image.new("RGB", (w, h), COLOURS[bg_name])
    draw = ImageDraw.Draw(img)
    texture = rng.choice([None, None, *TEXTURES])
    if texture:
        tex_colour = tuple(min(255, c + 40) for c in COLOURS[bg_name])
        _texture(draw, texture, (w, h), tex_colour)
    for _ in range(count):
        r = rng.uniform(0.15, 0.35) * min(w, h) / (1 if count == 1 else 1.5)
        _draw_shape(
            draw, shape, (rng.uniform(r, w - r), rng.uniform(r, h - r), r), COLOURS[fg_name], rng
        )
    noun = shape if count == 1 else f"{['', 'one', 'two', 'three'][count]} {fg_name} {shape}s"
    lead = f"a {fg_name} {shape}" if count == 1 else noun
    backdrop = f"a {texture} {bg_name} background" if texture else f"a {bg_name} background"
    return img, rng.choice(
        [f"{lead} on {backdrop}", f"{lead} on {backdrop}.", f"Photo of {lead} on {backdrop}"]
    )


def _scene_picture(rng: random.Random, w: int, h: int) -> tuple[Image.Image, str]:
    scene = rng.choices(SCENES, weights=[6, 4, 8, 3, 2, 2])[0]
    sky = {"sunset": (250, 120, 60), "night sky": (10, 15, 50)}.get(scene, (120, 180, 240))
    ground = {"sea": (20, 80, 160), "forest": (30, 110, 40), "desert": (220, 190, 110)}.get(
        scene, (90, 90, 80)
    )
    img = Image.new("RGB", (w, h), sky)
    draw = ImageDraw.Draw(img)
    horizon = int(h * rng.uniform(0.45, 0.7))
    if scene == "mountains":
        peaks = (
            [(0, horizon)]
            + [(x, horizon - rng.uniform(0.2, 0.5) * h) for x in range(0, w + 80, 80)]
            + [(w, horizon)]
        )
        draw.polygon([(0, h), *peaks, (w, h)], fill=(100, 100, 110))
    draw.rectangle((0, horizon, w, h), fill=ground)
    if scene == "forest":
        for x in range(0, w, max(12, w // 14)):
            draw.polygon(
                [
                    (x, horizon),
                    (x + w / 30, horizon - h * rng.uniform(0.15, 0.35)),
                    (x + w / 15, horizon),
                ],
                fill=(20, 90, 30),
            )
    body = (250, 240, 200) if scene == "night sky" else (255, 220, 50)
    r = min(w, h) * rng.uniform(0.06, 0.12)
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, horizon - r if horizon > 2 * r else r)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=body)
    if scene == "night sky":
        for _ in range(40):
            x, y = rng.uniform(0, w), rng.uniform(0, horizon)
            draw.point((x, y), fill=(255, 255, 255))
    img = img.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0, 1.2)))
    captions = {
        "sunset": "the sun setting over the sea at sunset",
        "mountains": "gray mountains under a blue sky",
        "sea": "the blue sea under a clear sky",
        "forest": "a green forest of trees under the sky",
        "desert": "a yellow desert under the sun",
        "night sky": "the moon in a night sky full of stars",
    }
    return img, captions[scene]


def render_picture(rng: random.Random, w: int, h: int) -> tuple[Image.Image, str]:
    """A procedural picture of size (w, h) and an English caption describing it."""
    if rng.random() < 0.7:
        return _shapes_picture(rng, w, h)
    return _scene_picture(rng, w, h)


def render_eval_image(rng: random.Random, size: int = 256) -> tuple[Image.Image, str]:
    """A busy, distinctive evaluation image (several shapes over a texture) and its label."""
    label = rng.choice(SHAPES)
    bg = rng.choice(list(COLOURS.values()))
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    _texture(draw, rng.choice(TEXTURES), (size, size), tuple(255 - c for c in bg))
    for _ in range(rng.randint(5, 9)):
        r = rng.uniform(0.06, 0.2) * size
        colour = rng.choice(list(COLOURS.values()))
        _draw_shape(
            draw,
            rng.choice(SHAPES),
            (rng.uniform(r, size - r), rng.uniform(r, size - r), r),
            colour,
            rng,
        )
    r = 0.22 * size
    _draw_shape(draw, label, (size / 2, size / 2, r), rng.choice(list(COLOURS.values())), rng)
    return img, label


def encode(img: Image.Image, fmt: str, quality: int = 90) -> bytes:
    """Encode a PIL image as JPEG, PNG or WebP bytes (deterministically)."""
    out = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(out, "JPEG", quality=quality)
    elif fmt == "WEBP":
        img.save(out, "WEBP", quality=quality, method=4)
    else:
        img.save(out, "PNG", optimize=False)
    return out.getvalue()


def alter_copy(img: Image.Image, transform: str) -> Image.Image:
    """The altered copy of an evaluation image that the sample web plants (`transform` names it)."""
    w, h = img.size
    if transform == "resize":
        return img.resize((int(w * 1.9), int(h * 1.9)), Image.Resampling.BICUBIC)
    if transform == "crop":
        dx, dy = int(w * 0.08), int(h * 0.06)
        return img.crop((dx, dy, w - dx // 2, h - dy)).resize((w + 64, h + 48))
    if transform == "flip":
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((w * 2, h * 2))
    return img.resize((w + 100, h + 100))  # "reencode": resized a little, saved at JPEG q=40
