"""Shard URLs and streaming tar reading: brace expansion, sizes.json, samples grouped by key.

    urls = expand_urls("s3://bucket/shards/{00000..00009}.tar")
    for sample in iter_samples(urls[0], stats):   # {"__key__", "__url__", "jpg", "txt", "json"}
        ...

Tars are read front to back from `pipeline.storage.open_read` (a local file or an S3 object's
body), never copied locally. A truncated or unreadable shard ends that shard with a counted
reason; the samples read before the damage are kept.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import tarfile
from collections import Counter
from collections.abc import Iterable, Iterator

from pipeline import storage

__all__ = [
    "expand_braces",
    "expand_urls",
    "read_sizes",
    "count_samples",
    "iter_samples",
    "split_key",
]

_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_LIST = re.compile(r"\{([^{}]*,[^{}]*)\}")


def expand_braces(pattern: str) -> list[str]:
    """Expand `{00000..00009}` (zero-padded ranges) and `{a,b}` lists, left to right."""
    found = [m for m in (_RANGE.search(pattern), _LIST.search(pattern)) if m]
    if not found:
        return [pattern]
    match = min(found, key=lambda m: m.start())
    if match.re is _RANGE:
        lo, hi = match.group(1), match.group(2)
        width = len(lo) if lo.startswith("0") or len(lo) == len(hi) else 0
        items = [str(i).zfill(width) for i in range(int(lo), int(hi) + 1)]
    else:
        items = match.group(1).split(",")
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [out for item in items for out in expand_braces(head + item + tail)]


def expand_urls(specs: str | Iterable[str]) -> list[str]:
    """Shard URLs from patterns: braces expanded, globs (`*`) listed, `::` separating lists."""
    if isinstance(specs, str):
        specs = [specs]
    urls: list[str] = []
    for spec in specs:
        for part in spec.split("::"):
            for url in expand_braces(part.strip()):
                urls.extend(storage.glob(url) if any(c in url for c in "*?[") else [url])
    return urls


def read_sizes(urls: list[str]) -> dict[str, int] | None:
    """Sample counts per URL from each folder's `sizes.json`; None if any is missing."""
    sizes: dict[str, int] = {}
    cache: dict[str, dict] = {}
    for url in urls:
        folder, name = posixpath.split(url)
        if folder not in cache:
            try:
                cache[folder] = json.loads(storage.read_bytes(storage.join(folder, "sizes.json")))
            except (OSError, ValueError, Exception):  # noqa: B014 - botocore errors too
                return None
        if name not in cache[folder]:
            return None
        sizes[url] = int(cache[folder][name])
    return sizes


def count_samples(urls: list[str]) -> int:
    """Total samples: from sizes.json when present, else by reading the tars."""
    sizes = read_sizes(urls)
    if sizes is not None:
        return sum(sizes.values())
    stats: Counter[str] = Counter()
    return sum(1 for url in urls for _ in iter_samples(url, stats))


def split_key(name: str) -> tuple[str, str]:
    """WebDataset naming: `dir/KEY.ext.gz` -> (`dir/KEY`, `ext.gz`)."""
    folder, base = posixpath.split(name)
    stem, _, ext = base.partition(".")
    return posixpath.join(folder, stem) if folder else stem, ext.lower()


def _members(url: str, stats: Counter[str]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the regular files in a tar, streaming; damage ends the shard."""
    try:
        with contextlib.closing(storage.open_read(url)) as stream:
            with tarfile.open(fileobj=stream, mode="r|*") as tar:
                for info in tar:
                    if not info.isfile():
                        continue
                    data = tar.extractfile(info)
                    yield info.name, data.read() if data else b""
    except (tarfile.TarError, EOFError, OSError, ValueError) as err:
        stats["shard_error"] += 1
        stats[f"shard_error:{type(err).__name__}"] += 1
    except Exception as err:  # botocore's NoSuchKey, ReadTimeout, ...: never fatal
        stats["shard_error"] += 1
        stats[f"shard_error:{type(err).__name__}"] += 1


def iter_samples(url: str, stats: Counter[str]) -> Iterator[dict]:
    """Samples of one shard: consecutive members sharing a key, as a dict by extension."""
    current: dict | None = None
    for name, data in _members(url, stats):
        key, ext = split_key(name)
        if current is not None and current["__key__"] != key:
            yield current
            current = None
        if current is None:
            current = {"__key__": posixpath.basename(key), "__url__": url}
        current[ext] = data
    if current is not None:
        yield current
