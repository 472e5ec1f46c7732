"""One storage layer for every path the project reads or writes: local files and `s3://`.

Local paths are the embedded default. `s3://bucket/key` goes through boto3 (`pipeline.s3`: the
standard credential chain, `AWS_ENDPOINT_URL` or `set_s3_endpoint` for S3-compatible stores,
retries on throttling and 5xx). Writers are atomic: an object appears under its final name only
when it is complete (local: write to a `.tmp-` sibling, fsync, rename; S3: a streaming multipart
upload completed on success and aborted on failure, memory bounded by the part size).

    with atomic_write("s3://bucket/shards/00000.tar") as f:
        f.write(data)
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob as _glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from pipeline import s3

__all__ = [
    "is_s3",
    "join",
    "open_read",
    "read_bytes",
    "write_bytes",
    "write_json",
    "atomic_write",
    "exists",
    "size",
    "glob",
    "makedirs",
    "remove",
    "remove_partial",
    "set_s3_endpoint",
    "register_webdataset_s3",
]

TMP_PREFIX = ".tmp-"


def is_s3(path: str) -> bool:
    """Whether `path` names an S3 object or prefix."""
    return path.startswith("s3://")


def set_s3_endpoint(url: str | None) -> None:
    """Use `url` as the S3 endpoint (an S3-compatible store) for clients made after this call."""
    s3.set_endpoint(url)


def join(base: str, *parts: str) -> str:
    """Join path parts; keeps `s3://` prefixes intact."""
    if is_s3(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(base, *parts)


def open_read(path: str) -> IO[bytes]:
    """Open `path` for streaming binary reads (the caller closes it)."""
    if is_s3(path):
        return _s3_open(path)
    return open(path, "rb")


def _s3_open(path: str) -> IO[bytes]:
    from botocore.exceptions import ClientError

    bucket, key = s3.split(path)
    try:
        resp = s3.with_retries("get_object", lambda: s3.client().get_object(Bucket=bucket, Key=key))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise FileNotFoundError(path) from None
        raise
    return resp["Body"]  # type: ignore[no-any-return]


def read_bytes(path: str) -> bytes:
    """Read a whole (small) file."""
    with contextlib.closing(open_read(path)) as f:
        return f.read()


@contextlib.contextmanager
def atomic_write(path: str) -> Iterator[IO[bytes]]:
    """Yield a binary file; on clean exit it is committed under `path`, on error discarded."""
    if is_s3(path):
        with s3.S3Writer(*s3.split(path)) as writer:
            yield writer  # type: ignore[misc]
        return
    directory = os.path.dirname(path) or "."
    makedirs(directory)
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX)
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


def write_json(path: str, obj: Any) -> None:
    """Atomically write `obj` as stable JSON (sorted keys, indent 1, UTF-8, final newline)."""
    text = json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    write_bytes(path, text.encode("utf-8"))


def size(path: str) -> int | None:
    """The byte size of a file or object, or None if there is none."""
    if is_s3(path):
        return s3.object_size(*s3.split(path))
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return None


def exists(path: str) -> bool:
    """Whether a file or object exists at `path`."""
    if is_s3(path):
        bucket, key = s3.split(path)
        resp = s3.with_retries(
            "list_objects_v2",
            lambda: s3.client().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1),
        )
        return any(o["Key"] == key for o in resp.get("Contents", []))
    return os.path.exists(path)


def glob(pattern: str) -> list[str]:
    """Sorted paths matching a shell-style pattern (local or `s3://`)."""
    if not is_s3(pattern):
        return sorted(_glob.glob(pattern))
    bucket, key_pattern = s3.split(pattern)
    prefix = key_pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
    keys = s3.list_keys(bucket, prefix)
    return sorted(f"s3://{bucket}/{k}" for k in keys if fnmatch.fnmatchcase(k, key_pattern))


def makedirs(path: str) -> None:
    """Create a local directory tree (no-op for S3, which has no directories)."""
    if not is_s3(path) and path:
        os.makedirs(path, exist_ok=True)


def remove(path: str) -> None:
    """Delete a file/object or a local directory tree if present."""
    if is_s3(path):
        bucket, key = s3.split(path)
        s3.with_retries("delete_object", lambda: s3.client().delete_object(Bucket=bucket, Key=key))
    elif os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.unlink(path)


def remove_partial(directory: str) -> int:
    """Remove what killed writers left under `directory`: `.tmp-` files or S3 multipart uploads."""
    if is_s3(directory):
        bucket, key = s3.split(directory.rstrip("/") + "/")
        return s3.abort_uploads(bucket, key)
    leftovers = _glob.glob(
        os.path.join(_glob.escape(directory), "**", TMP_PREFIX + "*"), recursive=True
    )
    for path in leftovers:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return len(leftovers)


def _wds_open(url: str, mode: str = "rb", bufsize: int = 8192, **kw: object) -> IO[bytes]:
    return open_read(url)


def register_webdataset_s3() -> None:
    """Let `webdataset` open `s3://` shard URLs through this layer (no local copy, no CLI)."""
    import importlib

    importlib.import_module("webdataset.gopen").gopen_schemes["s3"] = _wds_open
