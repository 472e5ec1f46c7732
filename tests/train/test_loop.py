"""Training end to end on CPU: the loss goes down, and a resumed run is bit-identical."""

from __future__ import annotations

import json

import pytest
import torch

from train.checkpoint import load_checkpoint
from train.config import DataConfig, TrainConfig
from train.loop import train


def _cfg(out: str, urls: list[str], **kw) -> TrainConfig:
    data = DataConfig(
        shards=tuple(urls), batch_size=16, workers=kw.pop("workers", 2), shuffle_buffer=32, seed=5
    )
    base = dict(
        out=out,
        model="tiny",
        epochs=2,
        lr=2e-3,
        warmup_steps=3,
        log_every=5,
        data=data,
        grad_clip=1.0,
    )
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, shard_urls) -> tuple[str, dict]:
    out = str(tmp_path_factory.mktemp("full"))
    return out, train(_cfg(out, shard_urls[:3], eval_shards=(shard_urls[3],)))


def test_short_run_lowers_the_loss_and_evaluates(full_run) -> None:
    out, summary = full_run
    assert summary["finished"] and summary["step"] == 2 * 9  # 144 samples / batch 16, 2 epochs
    first, last = summary["history"][0], summary["history"][-1]
    assert last["loss"] < 2.6 < 2.77 and last["loss"] <= first["loss"]  # chance: ln(16)
    assert {"zeroshot_top1", "image_to_text_R@1", "text_to_image_R@5"} <= set(last)
    assert summary["data"]["samples"] == 2 * 144
    assert json.load(open(f"{out}/summary.json"))["step"] == 18
    assert (load_checkpoint(f"{out}/checkpoints/latest.pt")["step"]) == 18


def test_resume_after_k_steps_is_bit_identical(full_run, tmp_path, shard_urls, capsys) -> None:
    out, _ = full_run
    cfg = _cfg(str(tmp_path), shard_urls[:3], eval_shards=(shard_urls[3],))
    stopped = train(TrainConfig(**{**cfg.__dict__, "stop_after_steps": 5}))
    assert not stopped["finished"] and stopped["step"] == 5
    resumed = train(TrainConfig(**{**cfg.__dict__, "resume": "latest"}))
    assert resumed["finished"] and resumed["step"] == 18
    assert "resumed from" in capsys.readouterr().err
    a = load_checkpoint(f"{out}/checkpoints/latest.pt")
    b = load_checkpoint(f"{tmp_path}/checkpoints/latest.pt")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert a["optimizer"]["state"][0]["exp_avg"].equal(b["optimizer"]["state"][0]["exp_avg"])
    assert a["scheduler"] == b["scheduler"]
    assert a["stats"] == b["stats"]


def test_progress_line_shows_rate_loss_and_temperature(tmp_path, shard_urls, capsys) -> None:
    train(_cfg(str(tmp_path), shard_urls[:1], epochs=1, log_every=1, workers=0))
    line = capsys.readouterr().out.splitlines()[0]
    for part in ("samples/s", "loss", "temperature", "lr", "data wait"):
        assert part in line


def test_resampled_run_needs_and_uses_steps_per_epoch(tmp_path, shard_urls) -> None:
    cfg = _cfg(str(tmp_path), shard_urls[:1], epochs=1, steps_per_epoch=4, workers=0)
    cfg = TrainConfig(
        **{**cfg.__dict__, "data": DataConfig(**{**cfg.data.__dict__, "resampled": True})}
    )
    assert train(cfg)["step"] == 4
