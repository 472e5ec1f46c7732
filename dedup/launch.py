"""Launch-time checks of the dedup commands: shards, eval sets, checkpoints, output folders.

An audit must never report "0% overlap" because it was given nothing to look at: every shard
spec has to match tars, every eval set has to hold images, before any embedding starts.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from pipeline import storage
from pipeline.preflight import check_file, check_matches, check_output
from pipeline.usage import UsageError

__all__ = ["threshold_spec", "check_evals", "check_dedup", "check_calibrate", "check_run_dir"]


def threshold_spec(text: str) -> str:
    """A `type=` for `NAME=T` with T a number in [-1, 1] (cosine similarity)."""
    name, sep, value = text.partition("=")
    try:
        ok = bool(sep and name) and -1.0 <= float(value) <= 1.0
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"must be NAME=T with T in [-1, 1], got {text!r}")
    return text


def _existing_shards(spec: str) -> list[str]:
    """The tars of a shard spec (folder, glob or tar) that exist."""
    from dedup.wds import shard_paths

    paths = shard_paths(spec)
    return [p for p in paths if storage.exists(p)] if spec.endswith(".tar") else paths


def check_evals(specs: Iterable[str], flag: str = "--eval") -> None:
    """Every `NAME=PATH` eval set exists and holds at least one image."""
    from dedup.evalsets import parse_eval_spec, read_eval_set

    for spec in specs:
        name, path = parse_eval_spec(spec)
        if not storage.is_s3(path) and not storage.glob(path):
            raise UsageError(f"{flag} {spec}: no such folder or file {path!r}")
        try:
            first = next(iter(read_eval_set(name, path)), None)
        except (OSError, ValueError) as err:
            raise UsageError(f"{flag} {spec}: cannot be read ({err})") from None
        if first is None:
            raise UsageError(
                f"{flag} {spec}: no images found (image files, class folders, tars or parquet)"
            )


def check_checkpoint(path: str, flag: str = "--checkpoint") -> None:
    """`path` is a readable `wit train` checkpoint."""
    from train.checkpoint import load_checkpoint

    check_file(path, flag)
    load_checkpoint(path)  # raises UsageError when it is not a checkpoint


def check_dedup(args: argparse.Namespace) -> None:
    """`wit dedup`: shards match tars, eval sets hold images, thresholds name given sets."""
    from dedup.evalsets import parse_eval_spec

    check_matches(args.shards, "--shards", _existing_shards)
    check_evals(args.eval)
    names = {parse_eval_spec(e)[0] for e in args.eval}
    for spec in args.threshold:
        if spec.partition("=")[0] not in names:
            raise UsageError(
                f"--threshold {spec}: no eval set of that name (given: {sorted(names)})"
            )
    if args.model:
        check_file(args.model, "--model")
    if args.checkpoint:
        check_checkpoint(args.checkpoint)
    check_output(args.out, "--out")


def check_calibrate(args: argparse.Namespace) -> None:
    """`wit dedup-calibrate`: eval sets hold images."""
    check_evals(args.eval)
    if args.model:
        check_file(args.model, "--model")


def check_run_dir(path: str, what: str = "DIR") -> None:
    """`path` is the output folder of `wit dedup` (it holds parquet files)."""
    found = storage.glob(storage.join(path, "*.parquet"))
    if not found:
        raise UsageError(f"{what} {path}: not the output of `wit dedup` (no parquet files there)")


def check_dedup_filter(args: argparse.Namespace) -> None:
    """`wit filter`: the shards match tars, the exclusion list exists, the output can be written."""
    check_matches([args.shards], "--shards", _existing_shards)
    check_file(args.exclude, "--exclude")
    check_output(args.out, "--out")
