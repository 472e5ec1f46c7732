"""Deterministic tar writing shared by every shard writer (pipeline, dedup reshard, test shards).

Fixed headers (mtime 0, owner 0/"", mode 0444, USTAR) make the bytes a pure function of the
members, so reruns write identical tars. No Beam import: trainers and tools use it too.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from typing import Any

__all__ = ["write_members"]


def write_members(members: Iterable[tuple[str, bytes]], fileobj: Any) -> None:
    """Stream (name, bytes) members into a tar with fixed headers."""
    with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o444
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
