"""Reshard without excluded keys: what `wit filter` runs on an exclusion list.

Reads `shards/*.tar` (and the `.parquet` beside each when present), drops every sample whose
key is in the exclusion list, and writes the same layout (tars, parquets, `sizes.json`) to
the output folder. Counts of kept and excluded samples go to `filter_stats.json`.

    stats = filter_shards(FilterConfig("shards/", "out/exclusion/keys.txt", "clean/"))
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow.compute as pc
import pyarrow.parquet as pq

from dedup.wds import iter_tar, shard_paths, write_tar
from pipeline import storage

__all__ = ["FilterConfig", "filter_shards", "read_keys"]


@dataclass(frozen=True)
class FilterConfig:
    """Input shards, the exclusion list (keys.txt or parquet with `key`), the output folder."""

    shards: str
    exclude: str
    out: str


def read_keys(path: str) -> set[str]:
    """Excluded keys from a keys.txt (one per line) or a parquet with a `key` column."""
    data = storage.read_bytes(path)
    if path.endswith(".parquet"):
        return set(pq.read_table(io.BytesIO(data), columns=["key"]).column("key").to_pylist())
    return {line.strip() for line in data.decode("utf-8").splitlines() if line.strip()}


def _filter_parquet(src: str, dst: str, excluded: set[str]) -> None:
    table = pq.read_table(io.BytesIO(storage.read_bytes(src)))
    if "key" in table.column_names:
        mask = pc.invert(pc.is_in(table.column("key"), value_set=_array(excluded)))
        table = table.filter(mask)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    storage.write_bytes(dst, buf.getvalue())


def _array(keys: set[str]):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return pa.array(sorted(keys), type=pa.string())


def _kept(samples: Iterator[tuple[str, dict[str, bytes]]], excluded: set[str], seen: list[int]):  # type: ignore[no-untyped-def]
    """The samples whose key is not excluded; `seen[0]` counts every sample read."""
    for key, members in samples:
        seen[0] += 1
        if key not in excluded:
            yield key, members


def filter_shards(cfg: FilterConfig) -> dict:
    """Write the filtered shards; returns kept/excluded counts."""
    excluded = read_keys(cfg.exclude)
    sizes: dict[str, int] = {}
    kept = dropped = 0
    for path in shard_paths(cfg.shards):
        name = os.path.basename(path)
        seen = [0]
        n = write_tar(storage.join(cfg.out, name), _kept(iter_tar(path), excluded, seen))
        kept, dropped, sizes[name] = kept + n, dropped + seen[0] - n, n
        src_pq = path[: -len(".tar")] + ".parquet"
        if storage.exists(src_pq):
            _filter_parquet(src_pq, storage.join(cfg.out, name[:-4] + ".parquet"), excluded)
    stats = {"kept": kept, "excluded": dropped, "exclusion_list": cfg.exclude, "shards": len(sizes)}
    storage.write_bytes(storage.join(cfg.out, "sizes.json"), json.dumps(sizes, indent=1).encode())
    storage.write_bytes(
        storage.join(cfg.out, "filter_stats.json"), json.dumps(stats, indent=1).encode()
    )
    return stats
