"""One storage layer for every path the project reads or writes: local files and `s3://`.

Local paths are the embedded default. `s3://bucket/key` goes through boto3 with the standard
credential chain; an S3-compatible endpoint comes from `AWS_ENDPOINT_URL` (or
`set_s3_endpoint`). Writers are atomic: an object appears under its final name only when it
is complete (local: write to a temporary sibling, then rename; S3: upload on success only).

    with atomic_write("s3://bucket/shards/00000.tar") as f:
        f.write(data)
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob as _glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO

__all__ = [
    "is_s3",
    "join",
    "open_read",
    "read_bytes",
    "write_bytes",
    "atomic_write",
    "exists",
    "glob",
    "makedirs",
    "remove",
    "set_s3_endpoint",
]

_S3_ENDPOINT: str | None = None


def is_s3(path: str) -> bool:
    """Whether `path` names an S3 object or prefix."""
    return path.startswith("s3://")


def set_s3_endpoint(url: str | None) -> None:
    """Use `url` as the S3 endpoint (an S3-compatible store) for clients made after this call."""
    global _S3_ENDPOINT
    _S3_ENDPOINT = url or None


def _split_s3(path: str) -> tuple[str, str]:
    bucket, _, key = path[len("s3://") :].partition("/")
    return bucket, key


def _s3_client():  # type: ignore[no-untyped-def]
    import boto3

    endpoint = _S3_ENDPOINT or os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.client("s3", endpoint_url=endpoint)


def join(base: str, *parts: str) -> str:
    """Join path parts; keeps `s3://` prefixes intact."""
    if is_s3(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(base, *parts)


def open_read(path: str) -> IO[bytes]:
    """Open `path` for streaming binary reads (the caller closes it)."""
    if is_s3(path):
        bucket, key = _split_s3(path)
        return _s3_client().get_object(Bucket=bucket, Key=key)["Body"]  # type: ignore[no-any-return]
    return open(path, "rb")


def read_bytes(path: str) -> bytes:
    """Read a whole (small) file."""
    with contextlib.closing(open_read(path)) as f:
        return f.read()


@contextlib.contextmanager
def atomic_write(path: str) -> Iterator[IO[bytes]]:
    """Yield a binary file; on clean exit it is committed under `path`, on error discarded."""
    if is_s3(path):
        with tempfile.TemporaryFile() as tmp:
            yield tmp
            tmp.flush()
            tmp.seek(0)
            bucket, key = _split_s3(path)
            _s3_client().upload_fileobj(tmp, bucket, key)
        return
    makedirs(os.path.dirname(path) or ".")
    fd, tmp_path = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise


def write_bytes(path: str, data: bytes) -> None:
    """Atomically write `data` to `path`."""
    with atomic_write(path) as f:
        f.write(data)


def exists(path: str) -> bool:
    """Whether a file or object exists at `path`."""
    if is_s3(path):
        bucket, key = _split_s3(path)
        resp = _s3_client().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        return any(o["Key"] == key for o in resp.get("Contents", []))
    return os.path.exists(path)


def glob(pattern: str) -> list[str]:
    """Sorted paths matching a shell-style pattern (local or `s3://`)."""
    if not is_s3(pattern):
        return sorted(_glob.glob(pattern))
    bucket, key_pattern = _split_s3(pattern)
    prefix = key_pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
    paginator = _s3_client().get_paginator("list_objects_v2")
    keys = [
        obj["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]
    return sorted(f"s3://{bucket}/{k}" for k in keys if fnmatch.fnmatchcase(k, key_pattern))


def makedirs(path: str) -> None:
    """Create a local directory tree (no-op for S3, which has no directories)."""
    if not is_s3(path) and path:
        os.makedirs(path, exist_ok=True)


def remove(path: str) -> None:
    """Delete a file/object or a local directory tree if present."""
    if is_s3(path):
        bucket, key = _split_s3(path)
        _s3_client().delete_object(Bucket=bucket, Key=key)
    elif os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.unlink(path)
