"""`wit train` registration, flag parsing into typed configs, and the public API."""

from __future__ import annotations

import argparse

import pytest

from train import cli


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    return parser.parse_args(argv)


def test_flags_become_a_typed_config(shard_dir: str) -> None:
    args = _parse(
        [
            "train",
            "--shards",
            f"{shard_dir}/{{00000..00001}}.tar",
            "--out",
            "o",
            "--config",
            "tiny",
            "--epochs",
            "3",
            "--batch-size",
            "4",
            "--resume",
            "latest",
            "--exclude",
            "x.txt",
            "--resampled",
        ]
    )
    cfg = cli.config_from_args(args)
    assert cfg.epochs == 3 and cfg.resume == "latest" and cfg.model == "tiny"
    assert cfg.data.batch_size == 4 and cfg.data.exclude == "x.txt" and cfg.data.resampled
    assert cfg.data.shards == (f"{shard_dir}/00000.tar", f"{shard_dir}/00001.tar")
    assert args.func is cli._handler


def test_wit_train_runs_through_the_wit_command(shard_urls, tmp_path, capsys) -> None:
    wit = pytest.importorskip("pipeline.cli")
    code = wit.main(
        [
            "train",
            "--shards",
            shard_urls[0],
            "--out",
            str(tmp_path),
            "--batch-size",
            "16",
            "--workers",
            "0",
            "--epochs",
            "1",
            "--log-every",
            "1",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "samples/s" in out and '"step": 3' in out
