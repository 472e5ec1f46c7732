"""S3 through boto3: one cached client per endpoint, retries, and a streaming multipart writer.

Credentials come from boto3's standard chain (environment, profile, instance role) and are never
logged. The endpoint of an S3-compatible store comes from `set_endpoint(url)` (the
`--s3_endpoint_url` option) or `AWS_ENDPOINT_URL`. Every request goes through botocore's
"standard" retry mode (throttling, 5xx, connection errors, with jittered backoff); whole
operations are retried again on top of that while the store keeps answering SlowDown/503.

    with S3Writer("bucket", "shards/00000.tar") as w:   # visible only if the block succeeds
        w.write(data)

`python -m pipeline.s3 s3://bucket/key ...` copies objects to stdout, so WebDataset can stream
shards with `pipe:python -m pipeline.s3 s3://bucket/shards/00000.tar`.
"""

from __future__ import annotations

import io
import logging
import os
import random
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "S3Settings",
    "S3Writer",
    "configure",
    "reset",
    "set_endpoint",
    "client",
    "split",
    "with_retries",
    "abort_uploads",
    "unsupported",
    "list_keys",
    "object_size",
    "cat",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

_RETRYABLE_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"}
    | {"InternalError", "RequestLimitExceeded", "503", "500", "502", "504"}
)


@dataclass(frozen=True)
class S3Settings:
    """Client and upload settings (module-wide; tests and benchmarks may replace them)."""

    endpoint_url: str = ""
    retry_mode: str = "standard"  # botocore: "standard" or "adaptive"
    max_attempts: int = 8  # per request, inside botocore
    operation_retries: int = 6  # whole operations, on top, while the store says SlowDown/5xx
    retry_base_s: float = 0.5
    part_size: int = 16 * 1024 * 1024  # multipart part size
    parts_in_flight: int = 4  # concurrent part uploads per writer (memory: (this + 1) * part)


SETTINGS = S3Settings()
_CLIENTS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def configure(**changes: Any) -> None:
    """Replace module settings (e.g. `configure(part_size=5 << 20)`); clients are re-made."""
    global SETTINGS
    from dataclasses import replace

    SETTINGS = replace(SETTINGS, **changes)
    _CLIENTS.clear()


def reset() -> None:
    """Back to the default settings (endpoint from the environment); clients are re-made."""
    global SETTINGS
    SETTINGS = S3Settings()
    _CLIENTS.clear()


def set_endpoint(url: str | None) -> None:
    """Use `url` as the endpoint of an S3-compatible store (empty: AWS_ENDPOINT_URL or AWS)."""
    configure(endpoint_url=url or "")


def _endpoint() -> str | None:
    return SETTINGS.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None


def client() -> Any:
    """A boto3 S3 client for the current endpoint (cached per process; clients are thread-safe)."""
    key = (_endpoint(), os.getpid(), SETTINGS)
    with _LOCK:
        if key not in _CLIENTS:
            import boto3
            from botocore.config import Config

            retries = {"mode": SETTINGS.retry_mode, "max_attempts": SETTINGS.max_attempts}
            config = Config(retries=retries, max_pool_connections=32)  # type: ignore[arg-type]
            session = boto3.session.Session()
            _CLIENTS[key] = session.client("s3", endpoint_url=key[0], config=config)
        return _CLIENTS[key]


def split(path: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    bucket, _, key = path[len("s3://") :].partition("/")
    return bucket, key


def _retryable(err: Exception) -> bool:
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(err, ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code == "NotImplemented" or status == 501:  # the store lacks the operation
            return False
        return code in _RETRYABLE_CODES or status >= 500
    return isinstance(err, (ConnectionError, HTTPClientError))


def with_retries(what: str, fn: Callable[[], T]) -> T:
    """Run `fn`, retrying it with jittered exponential backoff while S3 throttles or fails 5xx."""
    for attempt in range(SETTINGS.operation_retries + 1):
        try:
            return fn()
        except Exception as err:
            if attempt == SETTINGS.operation_retries or not _retryable(err):
                raise
            delay = SETTINGS.retry_base_s * 2**attempt * (0.5 + random.random() / 2)
            log.warning(
                "S3 %s: %s; retry %d in %.1f s", what, type(err).__name__, attempt + 1, delay
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


class S3Writer(io.RawIOBase):
    """A write-only stream to one S3 object; the object appears only when `commit()` runs.

    Bytes are buffered up to `part_size`; larger objects go up as a multipart upload with at
    most `parts_in_flight` parts uploading at once, so memory stays bounded by
    (parts_in_flight + 1) * part_size. `commit()` completes the upload (or PUTs a small object
    in one request); `abort()` (also on any error inside `with`, commit included) aborts it.
    """

    def __init__(self, bucket: str, key: str, part_size: int | None = None) -> None:
        super().__init__()
        self.bucket, self.key = bucket, key
        self.part_size = max(part_size or SETTINGS.part_size, 5 * 1024 * 1024)
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._pending: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None
        self.size = 0

    def writable(self) -> bool:
        """Always true: this is a write stream."""
        return True

    def write(self, data: Any) -> int:
        """Buffer `data`; upload a part whenever a full one is buffered."""
        view = memoryview(data).cast("B")
        self._buf += view
        self.size += len(view)
        while len(self._buf) >= self.part_size:
            self._upload_part(bytes(self._buf[: self.part_size]))
            del self._buf[: self.part_size]
        return len(view)

    def _upload_part(self, body: bytes) -> None:
        if self._upload_id is None:
            resp = with_retries(
                "create_multipart_upload",
                lambda: client().create_multipart_upload(Bucket=self.bucket, Key=self.key),
            )
            self._upload_id = resp["UploadId"]
            self._pool = ThreadPoolExecutor(SETTINGS.parts_in_flight, "s3-part")
        while len(self._pending) >= SETTINGS.parts_in_flight:
            self._parts.append(self._pending.pop(0).result())
        number = len(self._parts) + len(self._pending) + 1
        self._pending.append(self._pool.submit(self._put_part, number, body))  # type: ignore[union-attr]

    def _put_part(self, number: int, body: bytes) -> dict[str, Any]:
        args = dict(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
        resp = with_retries(
            f"upload_part {number}",
            lambda: client().upload_part(PartNumber=number, Body=body, **args),
        )
        return {"PartNumber": number, "ETag": resp["ETag"]}

    def commit(self) -> None:
        """Make the object visible under its key (complete the upload, or PUT a small one)."""
        s3, body = client(), bytes(self._buf)
        if self._upload_id is None:
            with_retries(
                "put_object", lambda: s3.put_object(Bucket=self.bucket, Key=self.key, Body=body)
            )
        else:
            if body:
                self._upload_part(body)
            while self._pending:
                self._parts.append(self._pending.pop(0).result())
            parts = {"Parts": self._parts}
            with_retries(
                "complete_multipart_upload",
                lambda: s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload=parts,
                ),
            )
        self._close()

    def _close(self) -> None:
        self._buf, self._pending = bytearray(), []
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        super().close()

    def abort(self) -> None:
        """Discard everything written: abort the multipart upload if one was started."""
        self._close()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            try:
                with_retries(
                    "abort_multipart_upload",
                    lambda: client().abort_multipart_upload(
                        Bucket=self.bucket, Key=self.key, UploadId=upload_id
                    ),
                )
            except Exception as err:  # the store expires it; Finalize aborts leftovers too
                log.warning("S3 abort of s3://%s/%s failed: %s", self.bucket, self.key, err)

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.commit()
        except BaseException:
            self.abort()
            raise


def unsupported(err: Exception) -> bool:
    """Whether `err` says the store does not implement the operation (501, 405, NotImplemented)."""
    from botocore.exceptions import ClientError

    if not isinstance(err, ClientError):
        return False
    code = str(err.response.get("Error", {}).get("Code", ""))
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status in (501, 405) or code in ("NotImplemented", "MethodNotAllowed")


def abort_uploads(bucket: str, prefix: str) -> int:
    """Abort every incomplete multipart upload under `prefix` (left by killed writers).

    Best effort: a store that does not implement listing or aborting uploads (several
    self-hosted S3-compatible stores answer 501/405) gets a warning, not a failed build.
    """
    s3, aborted = client(), 0
    try:
        pages = list(
            s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
        )
    except Exception as err:
        if not unsupported(err):
            raise
        log.warning("S3 store cannot list multipart uploads (%s): s3://%s/%s not cleaned up",
                    type(err).__name__, bucket, prefix)  # fmt: skip
        return 0
    for upload in (u for page in pages for u in page.get("Uploads", [])):
        try:
            with_retries("abort_multipart_upload", lambda u=upload: s3.abort_multipart_upload(
                Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"]))  # fmt: skip
            aborted += 1
        except Exception as err:
            if not unsupported(err):
                raise
            log.warning("S3 store cannot abort upload of s3://%s/%s (%s): left in place",
                        bucket, upload["Key"], type(err).__name__)  # fmt: skip
    return aborted


def list_keys(bucket: str, prefix: str) -> Iterator[str]:
    """Every object key under `prefix`."""
    for page in client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield obj["Key"]


def object_size(bucket: str, key: str) -> int | None:
    """The size of an object, or None if it does not exist."""
    from botocore.exceptions import ClientError

    try:
        resp = with_retries("head_object", lambda: client().head_object(Bucket=bucket, Key=key))
    except ClientError as err:
        if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise
    return int(resp["ContentLength"])


def cat(urls: list[str], out: Any = None) -> int:
    """Copy `s3://` objects to `out` (stdout) in order; the body of `python -m pipeline.s3`."""
    out = out or sys.stdout.buffer
    for url in urls:
        bucket, key = split(url)
        body = with_retries(
            "get_object", lambda b=bucket, k=key: client().get_object(Bucket=b, Key=k)
        )
        shutil.copyfileobj(body["Body"], out, 1 << 20)
    out.flush()
    return 0


if __name__ == "__main__":
    from pipeline.preflight import cat_main

    try:
        sys.exit(cat_main(sys.argv[1:]))
    except BrokenPipeError:  # the reader stopped early (e.g. took only the first sample)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
