"""Fixtures for dedup tests: procedural images, tiny eval sets and WebDataset shards."""

from __future__ import annotations

import io
import json
import os
import random

import pytest
from PIL import Image, ImageDraw, ImageFilter

from dedup import transforms
from dedup.wds import write_tar
from tests.conftest import SHARED_DATA  # noqa: E402

IMAGENET = os.path.join(SHARED_DATA, "imagenet-samples")


def scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A distinct procedural 'photo': gradient sky, ground, random shapes and texture."""
    rng = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    top = tuple(rng.randint(0, 255) for _ in range(3))
    bottom = tuple(rng.randint(0, 255) for _ in range(3))
    for y in range(h):
        t = y / h
        draw.line(
            [(0, y), (w, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(rng.randint(5, 10)):
        x0, y0 = rng.randint(-40, w), rng.randint(-40, h)
        x1, y1 = x0 + rng.randint(20, w // 2), y0 + rng.randint(20, h // 2)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        shape = rng.choice(["ellipse", "rectangle", "polygon"])
        if shape == "polygon":
            pts = [(rng.randint(0, w), rng.randint(0, h)) for _ in range(rng.randint(3, 6))]
            draw.polygon(pts, fill=colour)
        else:
            getattr(draw, shape)([x0, y0, x1, y1], fill=colour)
    noise = Image.effect_noise(size, rng.uniform(10, 40)).convert("RGB")
    return Image.blend(img, noise, 0.15).filter(ImageFilter.SMOOTH)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def sample(key: str, img: Image.Image, caption: str, url: str) -> tuple[str, dict[str, bytes]]:
    """One WebDataset sample as the pipeline writes it."""
    jpg = transforms.as_shard_jpeg(img)
    meta = {"key": key, "url": url, "caption": caption, "width": img.width, "height": img.height}
    return key, {"jpg": jpg, "txt": caption.encode(), "json": json.dumps(meta).encode()}


PLANTED = ("resize", "jpeg30", "crop10", "hflip", "rotate", "border", "text", "mild_combo")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An eval folder (16 images, labels.tsv) and 2 shards: 8 planted copies + 40 distinct."""
    root = tmp_path_factory.mktemp("world")
    ev = root / "evalset"
    (ev / "images").mkdir(parents=True)
    rows = ["id\tfile\tlabel"]
    evals = [scene(1000 + i) for i in range(16)]
    for i, img in enumerate(evals):
        (ev / "images" / f"e{i:02d}.png").write_bytes(png_bytes(img))
        rows.append(f"e{i:02d}\te{i:02d}.png\tclass{i % 4}")
    (ev / "labels.tsv").write_text("\n".join(rows) + "\n")
    samples, planted = [], {}
    for i, name in enumerate(PLANTED):
        key = f"{0xA000 + i:016x}"
        planted[key] = f"e{i:02d}"
        samples.append(
            sample(  # planted copies appear in the report: their captions are hostile too
                key,
                transforms.apply(name, evals[i], i),
                f"copy {name} <script>alert(1)</script>",
                f"http://x/{key}?a=<b>",
            )
        )
    for j in range(40):
        key = f"{0xB000 + j:016x}"
        samples.append(
            sample(key, scene(5000 + j), "<script>alert(1)</script> & co", f"http://x/{key}?a=<b>")
        )
    random.Random(0).shuffle(samples)
    shards = root / "shards"
    shards.mkdir()
    write_tar(str(shards / "00000.tar"), sorted(samples[:24]))
    write_tar(str(shards / "00001.tar"), sorted(samples[24:]))
    return {"root": root, "eval": ev, "shards": shards, "planted": planted, "evals": evals}
