"""The trainer across ranks: uneven shards end an epoch on every rank together, and a resume
with another world size restarts the epoch's data (docs/training.md, "Exact resume" and
"Epochs and uneven shards")."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch.multiprocessing as mp

from train.checkpoint import load_checkpoint, save_checkpoint
from train.config import DataConfig, TrainConfig
from train.loop import train


def _cfg(out: str, urls: list[str], **kw) -> TrainConfig:
    data = DataConfig(shards=tuple(urls), batch_size=8, workers=0, shuffle_buffer=8, seed=2)
    base = dict(out=out, model="tiny", epochs=1, lr=1e-3, warmup_steps=1, log_every=100)
    return TrainConfig(data=data, **{**base, **kw})


def test_resume_with_another_world_size_restarts_the_epoch(tmp_path, shard_urls, capsys):
    out = str(tmp_path)
    cfg = _cfg(out, shard_urls[:2])  # 96 samples: 12 steps of 8
    assert train(TrainConfig(**{**cfg.__dict__, "stop_after_steps": 3}))["step"] == 3
    state = load_checkpoint(f"{out}/checkpoints/latest.pt")
    assert len(state["positions"]) == 1 and state["positions"][0].taken
    # what a 2-rank run writes: a position (and stats) per rank
    save_checkpoint(out, {**state, "positions": state["positions"] * 2, "stats": [{}, {}]})
    resumed = train(TrainConfig(**{**cfg.__dict__, "resume": "latest"}))
    assert "world size changed" in capsys.readouterr().err
    assert resumed["finished"] and resumed["step"] == 3 + 12  # the whole epoch again
    assert resumed["data"]["samples"] == 96


def test_resume_with_the_same_world_size_continues(tmp_path, shard_urls, capsys):
    out = str(tmp_path)
    cfg = _cfg(out, shard_urls[:2])
    train(TrainConfig(**{**cfg.__dict__, "stop_after_steps": 3}))
    resumed = train(TrainConfig(**{**cfg.__dict__, "resume": "latest"}))
    assert "world size changed" not in capsys.readouterr().err
    assert resumed["step"] == 12 and resumed["data"]["samples"] == 96


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, cfg: TrainConfig, queue: mp.Queue) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank)
    )
    os.environ.update(WORLD_SIZE="2", OMP_NUM_THREADS="1")
    try:
        summary = train(cfg)
        queue.put((rank, summary["step"], summary["epoch"], summary["finished"]))
    except BaseException as err:  # noqa: BLE001 - reported to the test, which fails on it
        queue.put((rank, repr(err), None, False))


@pytest.mark.slow
def test_uneven_shards_end_the_epoch_on_every_rank_together(tmp_path, shard_urls):
    # 3 shards over 2 ranks: rank 0 reads 2 (12 batches), rank 1 reads 1 (6 batches) per epoch
    cfg = _cfg(str(tmp_path), shard_urls[:3], epochs=2)
    ctx = mp.get_context("spawn")
    queue, port = ctx.Queue(), _free_port()
    procs = [ctx.Process(target=_rank, args=(r, port, cfg, queue)) for r in range(2)]
    for p in procs:
        p.start()
    try:
        results = sorted(queue.get(timeout=180) for _ in procs)  # a hung rank fails here
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert results == [(0, 12, 2, True), (1, 12, 2, True)], results  # 6 steps per epoch
    summary = json.load(open(f"{tmp_path}/summary.json"))
    assert summary["world_size"] == 2 and summary["finished"]
