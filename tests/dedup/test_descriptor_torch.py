"""The torch classical descriptor gives the CPU descriptor's vectors (float tolerance)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageOps

from dedup import transforms
from dedup.descriptor import DIM, decode, describe
from dedup.descriptor_torch import TorchDescriptor
from tests.dedup.conftest import scene


@pytest.fixture(scope="module")
def images() -> list:
    """Shard-stored scenes of several sizes, bordered, padded and turned ones among them."""
    base = [scene(i, (320 + 16 * (i % 3), 240)) for i in range(12)]
    edited = [
        ImageOps.expand(base[0], 30, fill=(0, 0, 0)),
        transforms.apply("pad33", base[1], 1),
        transforms.apply("border", base[2], 2),
        transforms.apply("rotate10", base[3], 3),
        transforms.apply("thumb", base[4], 4),
    ]
    return [decode(transforms.as_shard_jpeg(im)) for im in base + edited]


def test_same_vectors_as_the_cpu_descriptor(images: list) -> None:
    cpu = np.stack([describe(im) for im in images])
    got = TorchDescriptor(device="cpu").describe(images)
    assert got.shape == cpu.shape and got.dtype == np.float32
    cos = (cpu * got).sum(axis=1)
    assert cos.min() > 0.999, cos  # PIL vs torch antialiased resize: a few pixels differ by 1
    assert np.median(np.abs(cpu - got)) < 1e-3


def test_empty_batch() -> None:
    assert TorchDescriptor().describe([]).shape == (0, DIM)
