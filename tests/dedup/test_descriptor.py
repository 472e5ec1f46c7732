"""Robustness of the default descriptor: copies found, distinct images not."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from dedup import transforms
from dedup.descriptor import decode, describe
from dedup.embed import ClassicalEmbedder, EmbedConfig
from dedup.index import IndexConfig
from dedup.matcher import EvalIndex, embed_in_batches
from dedup.proof import STRICT_FLOOR as CLASSICAL_FLOOR  # the descriptor-only threshold
from tests.dedup.conftest import IMAGENET, scene


def _scores(evals: list[Image.Image], distinct: list[Image.Image], names: tuple[str, ...]):
    emb = ClassicalEmbedder()
    bg = embed_in_batches(emb, [decode(transforms.as_shard_jpeg(d)) for d in distinct])
    index = EvalIndex.build(
        [str(i) for i in range(len(evals))], evals, emb, EmbedConfig(), IndexConfig(), bg
    )
    dist_q = index.project(bg)
    dist_max = index.match(dist_q, k=1)[0][:, 0]
    recall = {}
    for name in names:
        copies = [
            decode(transforms.as_shard_jpeg(transforms.apply(name, im, i)))
            for i, im in enumerate(evals)
        ]
        sims, ids = index.match(index.project(emb.embed(copies)), k=1)
        ok = (ids[:, 0] == np.arange(len(evals))) & (sims[:, 0] >= CLASSICAL_FLOOR)
        recall[name] = float(ok.mean())
    return recall, dist_max


def test_describe_is_unit_norm_and_deterministic() -> None:
    img = scene(1)
    a, b = describe(img), describe(img.copy())
    assert np.allclose(a, b)
    assert abs(np.linalg.norm(a) - 1.0) < 1e-5


def test_procedural_copies_found_distinct_not() -> None:
    evals = [scene(100 + i) for i in range(20)]
    distinct = [scene(900 + i) for i in range(40)]
    recall, dist_max = _scores(evals, distinct, transforms.MILD + ("jpeg30", "border", "text"))
    assert all(recall[n] >= 0.9 for n in transforms.MILD), str(recall)
    assert all(r >= 0.8 for r in recall.values()), str(recall)
    assert dist_max.max() < CLASSICAL_FLOOR


@pytest.mark.skipif(
    not os.path.isdir(IMAGENET), reason=f"shared data absent: {IMAGENET} (set WIT_SHARED_DATA)"
)
def test_real_photos_mild_edits() -> None:
    files = sorted(f for f in os.listdir(IMAGENET) if f.endswith(".JPEG"))
    photos = []
    for f in files[:120]:
        with open(os.path.join(IMAGENET, f), "rb") as fh:
            photos.append(decode(fh.read(), 256))
    recall, dist_max = _scores(photos[0::2], photos[1::2], transforms.MILD)
    assert all(r >= 0.95 for r in recall.values()), recall
    assert (dist_max >= CLASSICAL_FLOOR).mean() <= 0.02
