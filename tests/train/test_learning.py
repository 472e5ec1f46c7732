"""The learning test: on colour x shape shards a tiny model's zero-shot accuracy beats chance."""

from __future__ import annotations

import pytest

from train.config import DataConfig, TrainConfig
from train.loop import train
from train.synthetic import write_concept_shards


@pytest.mark.slow
def test_tiny_model_learns_concepts_zero_shot(tmp_path) -> None:
    urls = write_concept_shards(str(tmp_path / "train"), shards=4, per_shard=128, seed=11, size=32)
    held_out = write_concept_shards(
        str(tmp_path / "eval"), shards=1, per_shard=192, seed=12, size=32
    )
    data = DataConfig(shards=tuple(urls), batch_size=32, workers=2, shuffle_buffer=64)
    cfg = TrainConfig(
        out=str(tmp_path / "run"),
        epochs=8,
        lr=3e-3,
        warmup_steps=10,
        data=data,
        eval_shards=tuple(held_out),
        log_every=1000,
    )
    history = train(cfg)["history"]
    first, last = history[0], history[-1]
    assert last["zeroshot_chance"] == pytest.approx(1 / 12)
    assert last["zeroshot_top1"] > 3 * last["zeroshot_chance"]  # 12 concepts: chance 8.3%
    assert last["zeroshot_top5"] > 0.9
    assert last["loss"] < first["loss"]
