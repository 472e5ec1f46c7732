"""`S3Writer`: a committing stream to one S3 object, its bytes sent by boto3's managed transfer.

The writer buffers a part; from the first full part on it feeds the parts through a pipe to
s3transfer's `TransferManager` (`upload` of a non-seekable stream, sized by `transfer_config()`),
which uploads `max_concurrency` parts at once and holds a bounded number in memory. What stays
ours is the commit protocol: the object appears only when the writer's block succeeds
(`commit()`), any failure fails the transfer, which aborts the multipart upload by its id, and
every request the transfer makes goes through `pipeline.s3.with_retries` (SlowDown/5xx beyond
botocore's own attempts). Import it as `pipeline.s3.S3Writer`.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable
from typing import Any

from pipeline import s3

__all__ = ["S3Writer", "transfer_config"]


def transfer_config(part_size: int | None = None) -> Any:
    """boto3's `TransferConfig` of our writers: part size and concurrency from the settings."""
    from boto3.s3.transfer import TransferConfig

    part_size = part_size or s3.SETTINGS.part_size
    config = TransferConfig(
        multipart_threshold=part_size,  # the first full part decides: multipart
        multipart_chunksize=part_size,
        max_concurrency=s3.SETTINGS.max_concurrency,
        preferred_transfer_client="classic",
    )
    config.max_in_memory_upload_chunks = s3.SETTINGS.max_concurrency  # s3transfer's memory bound
    return config


_RETRIED = {"create_multipart_upload", "upload_part", "complete_multipart_upload"}
_RETRIED |= {"put_object", "abort_multipart_upload"}


class _RetryingClient:
    """The client handed to s3transfer: our SlowDown/5xx retries around each call it makes."""

    def __init__(self, real: Any, on_upload_id: Callable[[str], None]) -> None:
        self._real, self._on_upload_id = real, on_upload_id

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)
        if name not in _RETRIED:
            return method

        def call(**kwargs: Any) -> Any:
            body = kwargs.get("Body")
            start = body.tell() if hasattr(body, "seek") else None

            def attempt() -> Any:
                if start is not None:
                    body.seek(start)  # type: ignore[union-attr]  # a retry re-sends the part
                return method(**kwargs)

            resp = s3.with_retries(name, attempt)
            if name == "create_multipart_upload":
                self._on_upload_id(resp["UploadId"])
            return resp

        return call


_EOF = object()


class _Pipe:
    """The readable end s3transfer pulls parts from; the writer pushes whole parts into it."""

    def __init__(self, depth: int = 1) -> None:
        self._queue: queue.Queue = queue.Queue(depth)
        self._head = b""
        self._eof = False

    def readable(self) -> bool:
        """s3transfer reads this."""
        return True

    def seekable(self) -> bool:
        """Not seekable: s3transfer reads it part by part (bounded memory)."""
        return False

    def put(self, item: Any, done: Callable[[], bool]) -> None:
        """Queue a part (or `_EOF`, or an exception to raise in the reader) unless `done()`."""
        while not done():
            try:
                return self._queue.put(item, timeout=0.05)
            except queue.Full:
                continue

    def _get(self) -> Any:
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                if not threading.main_thread().is_alive():  # exiting with the writer unfinished
                    return RuntimeError("interpreter exit before the S3 object was committed")

    def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (all of them unless the stream ends: parts must be full)."""
        chunks, size = [], 0
        while (n < 0 or size < n) and not self._eof:
            if not self._head:
                item = self._get()
                if isinstance(item, BaseException):
                    raise item
                self._eof = item is _EOF
                self._head = b"" if self._eof else item
                continue
            take = self._head if n < 0 else self._head[: n - size]
            self._head = self._head[len(take) :]
            chunks.append(take)
            size += len(take)
        return b"".join(chunks)


class _Upload:
    """One managed multipart transfer fed by a `_Pipe`; it knows its upload id once created."""

    def __init__(self, bucket: str, key: str, part_size: int) -> None:
        from boto3.s3.transfer import create_transfer_manager

        self.bucket, self.key, self.upload_id = bucket, key, ""
        self._created = threading.Event()
        self.pipe = _Pipe()
        self.manager = create_transfer_manager(
            _RetryingClient(s3.client(), self._note), transfer_config(part_size)
        )
        self.future = self.manager.upload(self.pipe, bucket, key)

    def _note(self, upload_id: str) -> None:
        self.upload_id = upload_id
        self._created.set()

    def push(self, part: bytes) -> None:
        """Hand a full part over (blocks while the transfer holds its quota of parts)."""
        self.pipe.put(part, self.future.done)
        while not self._created.wait(0.05) and not self.future.done():
            pass  # the upload exists (and can be aborted by id) before write() returns
        if self.future.done():
            self.future.result()  # the transfer failed: raise its error here

    def finish(self, error: BaseException | None = None) -> None:
        """End the stream (`error`: fail the transfer, which aborts it) and wait for the result."""
        self.pipe.put(error or _EOF, self.future.done)
        try:
            self.future.result()
        finally:
            self.manager.shutdown()


class S3Writer(io.RawIOBase):
    """A write-only stream to one S3 object; the object appears only when `commit()` runs.

    Bytes are buffered up to `part_size`; from the first full part on, they go up as one
    multipart upload of boto3's managed transfer (`transfer_config()`: `max_concurrency` parts
    in flight), which holds a bounded number of parts in memory. `commit()` completes the
    upload (or PUTs a small object in one request); `abort()` (also on any error inside `with`,
    commit included) fails the transfer, which aborts the upload by its id.
    """

    def __init__(self, bucket: str, key: str, part_size: int | None = None) -> None:
        super().__init__()
        self.bucket, self.key = bucket, key
        self.part_size = max(part_size or s3.SETTINGS.part_size, 5 * 1024 * 1024)
        self._buf = bytearray()
        self._upload: _Upload | None = None
        self.size = 0

    def writable(self) -> bool:
        """Always true: this is a write stream."""
        return True

    def write(self, data: Any) -> int:
        """Buffer `data`; hand each full part to the transfer."""
        view = memoryview(data).cast("B")
        while len(view):
            taken, view = (
                view[: self.part_size - len(self._buf)],
                view[self.part_size - len(self._buf) :],
            )
            self._buf += taken
            self.size += len(taken)
            if len(self._buf) >= self.part_size:
                part, self._buf = bytes(self._buf), bytearray()
                if self._upload is None:
                    self._upload = _Upload(self.bucket, self.key, self.part_size)
                self._upload.push(part)
        return len(memoryview(data).cast("B"))

    def commit(self) -> None:
        """Make the object visible under its key (complete the upload, or PUT a small one)."""
        body, self._buf = bytes(self._buf), bytearray()
        if self._upload is None:
            store = s3.client()
            s3.with_retries(
                "put_object", lambda: store.put_object(Bucket=self.bucket, Key=self.key, Body=body)
            )
        else:
            if body:
                self._upload.pipe.put(body, self._upload.future.done)
            self._upload.finish()
            self._upload = None
        super().close()

    def abort(self) -> None:
        """Discard everything written: fail the transfer, which aborts the multipart upload."""
        self._buf = bytearray()
        upload, self._upload = self._upload, None
        super().close()
        if upload is None:
            return
        try:
            upload.finish(RuntimeError(f"write to s3://{self.bucket}/{self.key} abandoned"))
        except Exception:
            pass  # expected: the transfer failed as asked, and s3transfer aborted the upload
        if upload.upload_id and upload.future.done():
            _abort_again(self.bucket, self.key, upload.upload_id)

    def close(self) -> None:
        """Closing a writer that was not committed discards it (`abort()`)."""
        if not self.closed:
            self.abort()

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.commit()
        except BaseException:
            self.abort()
            raise


def _abort_again(bucket: str, key: str, upload_id: str) -> None:
    """Make sure the upload is gone (s3transfer aborted it; NoSuchUpload is the normal answer)."""
    from botocore.exceptions import ClientError

    try:
        s3.client().abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError:
        pass  # NoSuchUpload: already aborted
    except Exception as err:  # the store expires it; Finalize aborts leftovers too
        s3.log.warning("S3 abort of s3://%s/%s failed: %s", bucket, key, type(err).__name__)
