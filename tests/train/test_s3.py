"""Streaming shards from S3 (a real moto server on 127.0.0.1, boto3 unmocked): loader and training."""

from __future__ import annotations

import os
import socket
from collections import Counter

import pytest

from pipeline import storage
from train.config import DataConfig, TrainConfig
from train.data import StreamingDataset, make_loader
from train.loop import train
from train.shards import count_samples, expand_urls, iter_samples


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_shards(shard_dir: str):
    """The test shards uploaded to a bucket on a local moto server; yields the URL pattern."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import boto3

        boto3.client("s3").create_bucket(Bucket="wit")
        for name in sorted(os.listdir(shard_dir)):
            storage.write_bytes(
                f"s3://wit/shards/{name}", open(os.path.join(shard_dir, name), "rb").read()
            )
        yield "s3://wit/shards/{00000..00003}.tar"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def test_streams_every_sample_from_s3(s3_shards, shard_urls, tokenizer) -> None:
    urls = expand_urls(s3_shards)
    assert urls[0] == "s3://wit/shards/00000.tar" and len(urls) == 4
    assert count_samples(urls) == 192  # from sizes.json in the bucket
    local = [s["__key__"] for u in shard_urls for s in iter_samples(u, Counter())]
    cfg = DataConfig(shards=tuple(urls), batch_size=8, image_size=16, context_length=12, workers=2)
    items = list(make_loader(StreamingDataset(cfg, tokenizer)))
    keys = [k for item in items if item["images"] is not None for k in item["keys"]]
    assert sorted(keys) == sorted(local)


def test_missing_object_is_a_counted_shard_error(s3_shards) -> None:
    stats: Counter[str] = Counter()
    assert list(iter_samples("s3://wit/shards/99999.tar", stats)) == []
    assert stats["shard_error"] == 1


def test_trains_from_s3_and_checkpoints_to_s3(s3_shards) -> None:
    data = DataConfig(
        shards=tuple(expand_urls(s3_shards)), batch_size=16, workers=2, shuffle_buffer=16
    )
    cfg = TrainConfig(
        out="s3://wit/runs/tiny",
        model="tiny",
        epochs=1,
        warmup_steps=2,
        data=data,
        stop_after_steps=3,
    )
    assert train(cfg)["step"] == 3
    assert storage.exists("s3://wit/runs/tiny/tokenizer.json")
    assert storage.exists("s3://wit/runs/tiny/checkpoints/latest.pt")
    resumed = train(TrainConfig(**{**cfg.__dict__, "stop_after_steps": 0, "resume": "latest"}))
    assert resumed["finished"] and resumed["step"] == 12
