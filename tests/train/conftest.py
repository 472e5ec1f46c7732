"""Shared fixtures: small procedural concept shards (colour x shape) and a tokenizer for them."""

from __future__ import annotations

import pytest
import torch

from train.synthetic import concepts, write_concept_shards
from train.tokenizer import CaptionTokenizer, train_tokenizer

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shard_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Four training shards of 48 samples (32 px) plus sizes.json."""
    out = str(tmp_path_factory.mktemp("shards"))
    write_concept_shards(out, shards=4, per_shard=48, seed=1, size=32)
    return out


@pytest.fixture(scope="session")
def shard_urls(shard_dir: str) -> list[str]:
    """The four shard paths."""
    return [f"{shard_dir}/{i:05d}.tar" for i in range(4)]


@pytest.fixture(scope="session")
def tokenizer() -> CaptionTokenizer:
    """A BPE tokenizer trained on the concept captions."""
    texts = [f"{t} {c}" for c in concepts() for t in ("a", "a photo of a", "the", "")]
    return train_tokenizer(texts, vocab_size=300)
