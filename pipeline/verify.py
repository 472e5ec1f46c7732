"""Verify a build's outputs before the manifest lists them: each exists with its size and checksum.

An object store can lose objects mid-run (a restarted store, a recreated bucket, a lying
proxy); a manifest written anyway would list shards that are not there. `VerifyOutputs` checks
every shard (tar and parquet), rejects file and table in parallel (one element each) and yields
one line per problem; `Finalize` refuses to write the manifest when there is any, and
`--resume` then rewrites what is missing.

    problems = shard_problems(stats, "out/shards")   # [] when the shard is intact
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any

import apache_beam as beam

from pipeline import storage

__all__ = ["file_stats", "object_problem", "shard_problems", "file_problems", "VerifyOutputs"]


def file_stats(name: str, data: bytes) -> dict[str, Any]:
    """What the manifest records of a written file: name, size and SHA-256."""
    return {"file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def object_problem(path: str, size: int, sha256: str) -> str:
    """ "" if `path` exists with `size` bytes and checksum `sha256`, else what is wrong."""
    found = storage.size(path)
    if found is None:
        return f"{path}: missing"
    if found != size:
        return f"{path}: {found} bytes, expected {size}"
    digest = hashlib.sha256()
    with contextlib.closing(storage.open_read(path)) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "" if digest.hexdigest() == sha256 else f"{path}: checksum differs"


def shard_problems(stats: dict[str, Any], shards_dir: str) -> list[str]:
    """Problems of one shard's tar and parquet against its stats."""
    checks = [
        (stats["shard"], stats["bytes"], stats["sha256"]),
        (stats["parquet"], stats["parquet_bytes"], stats["parquet_sha256"]),
    ]
    found = [object_problem(storage.join(shards_dir, n), b, s) for n, b, s in checks]
    return [p for p in found if p]


def file_problems(stats: dict[str, Any], directory: str) -> list[str]:
    """Problems of one rejects file or table against its stats (unchecked if none recorded)."""
    if "sha256" not in stats:
        return []
    problem = object_problem(
        storage.join(directory, stats["file"]), stats["bytes"], stats["sha256"]
    )
    return [problem] if problem else []


class _VerifyFn(beam.DoFn):
    def __init__(self, directory: str, shards: bool, s3_endpoint_url: str) -> None:
        self.directory, self.shards, self.endpoint = directory, shards, s3_endpoint_url

    def setup(self) -> None:
        if self.endpoint:
            storage.set_s3_endpoint(self.endpoint)

    def process(self, stats: dict[str, Any]) -> Iterator[str]:
        check = shard_problems if self.shards else file_problems
        yield from check(stats, self.directory)


class VerifyOutputs(beam.PTransform):
    """Check written outputs (stats dicts) against storage; outputs one line per problem."""

    def __init__(self, directory: str, shards: bool = False, s3_endpoint_url: str = "") -> None:
        super().__init__()
        self.directory, self.shards, self.endpoint = directory, shards, s3_endpoint_url

    def expand(self, stats: beam.PCollection) -> beam.PCollection:
        return stats | "Check" >> beam.ParDo(_VerifyFn(self.directory, self.shards, self.endpoint))
