"""Launch-time checks of a training run: shards exist, files given exist, the output is writable.

A run that reads zero samples, or whose loss is not finite, is an error (`UsageError`, one line);
it never reports `"finished": true`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from pipeline import storage
from pipeline.preflight import check_file, check_output, check_s3
from pipeline.usage import UsageError
from train.config import TrainConfig

__all__ = ["check_shards", "check_train", "check_finite"]


def check_shards(specs: Iterable[str], urls: list[str], flag: str = "--shards") -> None:
    """Raise if the specs expand to no shard, or if a listed shard does not exist.

    Each folder is listed once (one request per folder on S3, not one per shard).
    """
    specs = list(specs)
    if not urls:
        raise UsageError(f"{flag} {' '.join(specs)}: no shard matches (check the path and glob)")
    listed: dict[str, set[str]] = {}
    for url in urls:
        folder = posixpath.dirname(url)
        if folder not in listed:
            if storage.is_s3(url):
                check_s3(url, flag)
            listed[folder] = set(storage.glob(storage.join(folder, "*")))
        if url not in listed[folder]:
            raise UsageError(f"{flag}: shard {url} does not exist")


def check_train(cfg: TrainConfig, specs: Iterable[str]) -> None:
    """Everything `wit train` reads exists; its output folder can be written."""
    from train.config import load_model_config
    from train.shards import expand_urls

    check_shards(specs, list(cfg.data.shards))
    if cfg.eval_shards:
        check_shards(cfg.eval_shards, expand_urls(cfg.eval_shards), "--eval-shards")
    for flag, path in (
        ("--exclude", cfg.data.exclude),
        ("--tokenizer", cfg.tokenizer),
        ("--classes", cfg.classes),
    ):
        if path:
            check_file(path, flag)
    if cfg.resume and cfg.resume != "latest":
        from train.checkpoint import load_checkpoint

        check_file(cfg.resume, "--resume")
        load_checkpoint(cfg.resume)
    try:
        load_model_config(cfg.model)
    except ValueError as err:
        raise UsageError(f"--config {cfg.model}: {err}") from None
    check_output(cfg.out, "--out")


def check_finite(loss: float, step: int) -> None:
    """Raise if a training loss is NaN or infinite: the run has diverged or read garbage."""
    if loss != loss or loss in (float("inf"), float("-inf")):
        raise UsageError(
            f"loss is {loss} at step {step}: training diverged (lower --lr, check the data)"
        )
