"""WebDataset tar reading and writing at the shard boundary (`KEY.jpg`, `KEY.txt`, `KEY.json`).

for key, members in iter_tar("shards/00000.tar"):
    jpg = members["jpg"]
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from pipeline import storage
from pipeline.tario import write_members

__all__ = [
    "iter_tar",
    "write_tar",
    "shard_paths",
    "expected_images",
    "TrainImage",
    "iter_train_images",
]

IMAGE_MEMBERS = ("jpg", "jpeg", "png", "webp")


def iter_tar(path: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) for every sample of one tar, in file order."""
    with storage.open_read(path) as f, tarfile.open(fileobj=f, mode="r|*") as tar:
        key, group = "", {}
        for member in tar:
            if not member.isfile():
                continue
            k, _, ext = os.path.basename(member.name).partition(".")
            if k != key and group:
                yield key, group
                group = {}
            key = k
            data = tar.extractfile(member)
            group[ext.lower()] = data.read() if data else b""
        if group:
            yield key, group


def write_tar(path: str, samples: Iterable[tuple[str, dict[str, bytes]]]) -> int:
    """Write samples as a tar (members sorted by extension per key); returns the count."""
    count = 0

    def members() -> Iterator[tuple[str, bytes]]:
        nonlocal count
        for key, by_ext in samples:
            count += 1
            for ext in sorted(by_ext):
                yield f"{key}.{ext}", by_ext[ext]

    with storage.atomic_write(path) as f:
        write_members(members(), f)
    return count


def shard_paths(spec: str) -> list[str]:
    """Tar paths from a folder, a single tar, or a glob (local or s3://)."""
    if spec.endswith(".tar"):
        return [spec]
    if any(c in spec for c in "*?["):
        return [p for p in storage.glob(spec) if p.endswith(".tar")]
    return storage.glob(storage.join(spec, "*.tar"))


def expected_images(paths: Sequence[str]) -> int | None:
    """How many samples the shards hold, from their folders' `sizes.json` (None if unknown)."""
    sizes: dict[str, dict] = {}
    total = 0
    for path in paths:
        folder, _, name = path.rpartition("/")
        if folder not in sizes:
            try:
                sizes[folder] = json.loads(storage.read_bytes(storage.join(folder, "sizes.json")))
            except (OSError, ValueError):
                return None
        if name not in sizes[folder]:
            return None
        total += int(sizes[folder][name])
    return total


class TrainImage(NamedTuple):
    """One training sample's image and the text shown beside it in reports."""

    key: str
    shard: str
    data: bytes
    caption: str
    url: str


def iter_train_images(paths: list[str]) -> Iterator[TrainImage]:
    """Every training sample with an image member, across shards in order."""
    import json

    for path in paths:
        shard = os.path.basename(path)
        for key, group in iter_tar(path):
            data = next((group[e] for e in IMAGE_MEMBERS if e in group), b"")
            if not data:
                continue
            caption = group.get("txt", b"").decode("utf-8", "replace")
            try:
                meta = json.loads(group.get("json", b"{}") or b"{}")
            except ValueError:
                meta = {}
            url = str(meta.get("url", "")) if isinstance(meta, dict) else ""
            yield TrainImage(key, shard, data, caption, url)
