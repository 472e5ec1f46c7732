"""Procedural concept shards (colour x shape) for smoke tests, the learning test and benchmarks.

    urls = write_concept_shards("/tmp/shards", shards=4, per_shard=64, seed=0)

Each sample is a JPEG of a coloured shape on a plain background with a caption such as
"a photo of a red circle" and `queries == ["red circle"]`, written in the pipeline's own shard
layout (`pipeline.schema.Record.webdataset_members`, `sizes.json`), so a zero-shot classifier
over the concepts has a known chance level of 1 / (colours x shapes).
"""

from __future__ import annotations

import io
import json
import random

from PIL import Image, ImageDraw

from pipeline import storage
from pipeline.schema import Record
from pipeline.tario import write_members

__all__ = ["COLOURS", "SHAPES", "concepts", "draw_concept", "write_concept_shards", "write_tar"]

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 180, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 220, 40),
}
SHAPES = ("circle", "square", "triangle")
TEMPLATES = ("a {}", "a photo of a {}", "a {} on a plain background", "the {}", "{}")


def concepts() -> list[str]:
    """Every "colour shape" concept, in a fixed order."""
    return [f"{c} {s}" for c in COLOURS for s in SHAPES]


def draw_concept(colour: str, shape: str, size: int, rng: random.Random) -> Image.Image:
    """An RGB image of one shape at a random place and scale on a random grey background."""
    grey = rng.randint(90, 160)
    img = Image.new("RGB", (size, size), (grey, grey, grey))
    r = rng.uniform(0.25, 0.4) * size
    cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
    fill = tuple(max(0, min(255, v + rng.randint(-20, 20))) for v in COLOURS[colour])
    draw = ImageDraw.Draw(img)
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return img


def _record(shard: int, index: int, size: int, rng: random.Random, seed: int) -> Record:
    """One procedural sample as a pipeline Record."""
    colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    concept = f"{colour} {shape}"
    buf = io.BytesIO()
    draw_concept(colour, shape, size, rng).save(buf, format="JPEG", quality=90)
    return Record(
        url=f"https://synthetic.invalid/{seed}/{shard}/{index}.jpg",
        caption=rng.choice(TEMPLATES).format(concept),
        queries=(concept,),
        image=buf.getvalue(),
        mime="image/jpeg",
        width=size,
        height=size,
    )


def write_tar(path: str, members: list[tuple[str, bytes]]) -> None:
    """Write (name, bytes) members into a tar at `path` (deterministic headers)."""
    with storage.atomic_write(path) as f:
        write_members(members, f)


def write_concept_shards(
    out: str, shards: int = 2, per_shard: int = 64, seed: int = 0, size: int = 64, start: int = 0
) -> list[str]:
    """Write `shards` tars of `per_shard` samples plus sizes.json; returns the shard paths."""
    rng = random.Random(seed)
    paths, sizes = [], {}
    for shard in range(start, start + shards):
        name = f"{shard:05d}.tar"
        records = [_record(shard, i, size, rng, seed) for i in range(per_shard)]
        write_tar(storage.join(out, name), [m for r in records for m in r.webdataset_members()])
        paths.append(storage.join(out, name))
        sizes[name] = per_shard
    storage.write_bytes(storage.join(out, "sizes.json"), json.dumps(sizes, indent=1).encode())
    return paths
