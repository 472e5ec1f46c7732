"""Launch-time checks of what a command is given: paths, globs, files, buckets.

Each check raises `UsageError` with one line naming the option and the problem, before any
pipeline is built, any worker is started or any output is written (on every runner: the check
runs where the user is).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from pipeline import storage
from pipeline.usage import UsageError

__all__ = [
    "check_matches",
    "check_file",
    "check_output",
    "check_s3",
    "check_queries",
    "s3_problem",
    "cat_main",
]


def s3_problem(url: str) -> str:
    """Why the bucket of `url` cannot be used ('' when it answers): missing, denied, unreachable."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from pipeline import s3

    bucket, _ = s3.split(url)
    endpoint = s3._endpoint() or "the AWS default endpoint"
    if not bucket:
        return f"{url!r} names no bucket (s3://BUCKET/PREFIX)"
    try:
        _quick_client().head_bucket(Bucket=bucket)
    except NoCredentialsError:
        return (
            "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
        )
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            return f"bucket {bucket!r} does not exist at {endpoint}"
        if code in ("403", "AccessDenied"):  # it exists; a role may read keys it cannot list
            return ""
        return f"bucket {bucket!r} at {endpoint}: {code or err}"
    except BotoCoreError as err:
        return f"S3 endpoint {endpoint} not reachable for bucket {bucket!r}: {err}"
    return ""


def _quick_client():  # type: ignore[no-untyped-def]
    """An S3 client that tries once with short timeouts: a launch check must not hang."""
    import boto3
    from botocore.config import Config

    from pipeline import s3

    config = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10)
    return boto3.session.Session().client("s3", endpoint_url=s3._endpoint(), config=config)


def check_s3(url: str, flag: str) -> None:
    """Raise if the bucket of `url` is missing or unreachable."""
    problem = s3_problem(url)
    if problem:
        raise UsageError(f"{flag} {url}: {problem}")


def check_matches(patterns: Iterable[str], flag: str, expand=storage.glob) -> list[str]:  # type: ignore[no-untyped-def]
    """The paths every pattern matches; raise naming the first pattern that matches nothing."""
    found: list[str] = []
    for pattern in patterns:
        if storage.is_s3(pattern):
            check_s3(pattern, flag)
        try:
            paths = expand(pattern)
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"{flag} {pattern}: cannot be read ({_reason(err)})") from None
        if not paths:
            raise UsageError(f"{flag} {pattern}: no file matches (check the path and the glob)")
        found.extend(paths)
    return found


def check_file(path: str, flag: str) -> None:
    """Raise unless `path` is an existing, readable file (or S3 object)."""
    if storage.is_s3(path):
        from botocore.exceptions import ClientError

        check_s3(path, flag)
        try:
            found = storage.size(path) is not None
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            raise UsageError(f"{flag} {path}: cannot be read ({code or err})") from None
        if not found:
            raise UsageError(f"{flag} {path}: no such object")
        return
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path}: is a folder, a file is expected")
    if not os.path.isfile(path):
        raise UsageError(f"{flag} {path}: no such file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{flag} {path}: not readable (permission denied)")


def check_output(path: str, flag: str) -> None:
    """Raise unless `path` can become an output folder: writable local parent, or a live bucket."""
    if not path:
        raise UsageError(f"{flag} is required")
    if storage.is_s3(path):
        check_s3(path, flag)
        return
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{flag} {path}: exists and is not a folder")
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UsageError(f"{flag} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: {parent} is not writable")


def check_queries(path: str, flag: str = "--queries") -> int:
    """Raise unless `path` holds at least one query (parquet `query` column, UTF-8 text lines)."""
    from queries.matcher import AUTOMATON_MAGIC, load_queries

    check_file(path, flag)
    with storage.open_read(path) as f:
        if f.read(len(AUTOMATON_MAGIC)) == AUTOMATON_MAGIC:
            return 1  # a compiled automaton (`wit queries compile`)
    try:
        queries = load_queries(path)
    except UnicodeDecodeError:
        raise UsageError(
            f"{flag} {path}: not UTF-8 text (one query per line) nor parquet"
        ) from None
    except Exception as err:  # noqa: BLE001 - pyarrow's errors: a wrong or corrupt parquet
        raise UsageError(f"{flag} {path}: not a query list ({_reason(err)})") from None
    if not queries:
        raise UsageError(f"{flag} {path}: holds no query (one per line, or a `query` column)")
    return len(queries)


def _reason(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return " ".join(str(text).split())[:200]


def cat_main(argv: list[str]) -> int:
    """`python -m pipeline.s3 s3://bucket/key ...`, each URL checked before anything is copied."""
    from pipeline.usage import run_cli

    return run_cli(lambda: _cat(argv), "python -m pipeline.s3")


def _cat(urls: list[str]) -> int:
    from pipeline import s3

    if not urls:
        raise UsageError("give one or more s3://BUCKET/KEY URLs to copy to stdout")
    for url in urls:
        if not storage.is_s3(url):
            raise UsageError(f"{url}: not an s3://BUCKET/KEY URL")
        check_file(url, "object")
    return s3.cat(urls)


_SNIFF_BYTES = 1 << 18  # the first records of a WARC/WAT (after the warcinfo) fit in 256 KiB


def sniff_format(path: str) -> str:
    """What the start of `path` looks like: 'wat', 'warc', 'wet', 'parquet', 'empty' or ''."""
    with storage.open_read(path) as f:
        head = f.read(_SNIFF_BYTES)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x1f\x8b"):
        head = _gunzip_head(head)
    if not head.strip():
        return "empty"
    if not head.startswith(b"WARC/"):
        return ""
    for kind, marker in (
        ("warc", b"WARC-Type: response"),
        ("wet", b"WARC-Type: conversion"),
        ("wat", b"WARC-Type: metadata"),
    ):
        if marker in head and (kind != "wat" or b'"Envelope"' in head):
            return kind
    return ""


def _gunzip_head(raw: bytes) -> bytes:
    """What the complete gzip members (one per WARC record) at the start of `raw` hold."""
    import zlib

    out = b""
    while raw.startswith(b"\x1f\x8b") and len(out) < _SNIFF_BYTES:
        member = zlib.decompressobj(31)
        try:
            out += member.decompress(raw, _SNIFF_BYTES)
        except zlib.error:
            break
        raw = member.unused_data
    return out


def check_format(path: str, expected: str, flag: str = "--input_format") -> None:
    """Raise if the first input file is plainly of another format than `expected`."""
    if expected == "pages":
        return
    try:
        found = sniff_format(path)
    except OSError as err:
        raise UsageError(f"--input {path}: cannot be read ({_reason(err)})") from None
    if found == "empty":
        raise UsageError(f"--input {path}: is empty")
    if found and found != expected:
        hint = "" if found == "wet" else f" (use {flag} {found})"
        raise UsageError(f"{flag} {expected}: {path} looks like a {found.upper()} file{hint}")
