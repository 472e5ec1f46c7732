"""The download stage: fetch images concurrently within each worker, validate and resize them.

`download_record` is the pure-ish unit (fetcher in, record out); `DownloadImages` batches records
and runs a thread pool per worker; `DedupImages` keeps one sample per image content hash.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms.window import GlobalWindows

from pipeline.consent import ConsentChecker, ConsentConfig
from pipeline.fetch import FetchConfig, Fetcher
from pipeline.imaging import ImageConfig, ImageRejected, process_image
from pipeline.safety import Blocked, SafetyConfig, SafetyGuard, blocked_record
from pipeline.schema import Reason, Record, Stage, reject
from pipeline.stages import Split, _Counted, _KeepFirstFn, _split

__all__ = ["DownloadConfig", "download_record", "DownloadImages", "DedupImages"]


@dataclass(frozen=True)
class DownloadConfig:
    """Fetching and image settings of the download stage."""

    fetch: FetchConfig = field(default_factory=FetchConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    threads: int = 16
    max_in_flight: int = 64  # downloads queued per worker (beyond the running `threads`)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    consent: ConsentConfig = field(default_factory=ConsentConfig)
    backend: str = "wit"  # or "img2dataset": its own download and resize code (pipeline.i2d)


def download_record(
    record: Record,
    fetcher: Fetcher,
    cfg: ImageConfig,
    guard: SafetyGuard | None = None,
) -> Record:
    """Fetch and process one candidate; returns the sample or the record with a drop reason.

    With a `guard`, hash lists, unsafe scores and faces are checked inside the image processing
    (the image host's consent is asked before, by `_consented`, for every backend).
    """
    result = fetcher.fetch(record.url)
    if result.reason:
        stage = Stage.DOWNLOAD
        return reject(record, stage, result.reason, result.detail, http_status=result.status)
    match = guard.check_bytes(result.body) if guard is not None else None
    if match:
        return blocked_record(record, match)
    try:
        img = process_image(result.body, cfg, guard)
    except Blocked as err:
        return blocked_record(record, err.match)
    except ImageRejected as err:
        stage = Stage.SAFETY if err.reason == Reason.UNSAFE else Stage.IMAGE
        return reject(record, stage, err.reason, err.detail, http_status=result.status)
    except Exception as err:  # never let one image kill the bundle
        detail = f"{type(err).__name__}: {err}"
        return reject(record, Stage.IMAGE, Reason.CORRUPT_IMAGE, detail, http_status=result.status)
    return replace(
        record,
        image=img.jpeg,
        image_ext=img.ext,
        mime=img.mime,
        width=img.width,
        height=img.height,
        original_width=img.original_width,
        original_height=img.original_height,
        sha256=img.sha256,
        exif=img.exif,
        http_status=result.status,
        **_safety_fields(img.safety),
    )


def _safety_fields(notes: object) -> dict[str, object]:
    if notes is None:
        return {}
    punsafe, faces, blurred = notes  # type: ignore[misc]
    return {"punsafe": punsafe, "faces": faces, "faces_blurred": blurred}


def _consented(
    record: Record, download: Callable[[Record], Record], consent: ConsentChecker | None
) -> Record:
    """`download(record)` unless the image host's robots.txt or tdmrep.json refuses it."""
    refusal = consent.refusal(record.url) if consent is not None else None
    return reject(record, Stage.DOWNLOAD, *refusal) if refusal else download(record)


class _DownloadFn(_Counted):
    """Keeps up to `max_in_flight` downloads running across the whole bundle.

    Results are emitted as they complete (their order does not matter: shards sort by key), so a
    slow server delays only its own records, never a batch; `finish_bundle` drains the rest.
    """

    stage = Stage.DOWNLOAD

    def __init__(self, cfg: DownloadConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def setup(self) -> None:
        self.fetcher = Fetcher(self.cfg.fetch)
        self.guard = SafetyGuard(self.cfg.safety)
        consent = self.cfg.consent
        wanted = consent.respect_robots or consent.respect_tdmrep
        self.consent = ConsentChecker(self.fetcher, consent) if wanted else None
        self.pool = ThreadPoolExecutor(self.cfg.threads, thread_name_prefix="wit-download")
        fetch = partial(download_record, fetcher=self.fetcher, cfg=self.cfg.image, guard=self.guard)
        if self.cfg.backend == "img2dataset":
            from pipeline import i2d

            i2d.install_policy(self.cfg.fetch)  # before img2dataset opens any connection
            resizer, timeout = i2d.make_resizer(self.cfg.image), self.cfg.fetch.read_timeout
            fetch = partial(
                i2d.i2d_download_record, cfg=self.cfg.fetch, resizer=resizer, timeout=timeout
            )
        self.download = partial(_consented, download=fetch, consent=self.consent)

    def start_bundle(self) -> None:
        self.in_flight = 0
        self.finished: queue.SimpleQueue[Future[Record]] = queue.SimpleQueue()

    def _submit(self, record: Record) -> None:
        future = self.pool.submit(self.download, record)
        future.add_done_callback(self.finished.put)  # completion order, no polling
        self.in_flight += 1

    def _collect(self, block: bool) -> list[Record]:
        done = [self.finished.get()] if block else []
        with contextlib.suppress(queue.Empty):
            while True:
                done.append(self.finished.get_nowait())
        self.in_flight -= len(done)
        return [f.result() for f in done]

    def process(self, record: Record) -> Iterator[object]:
        self._submit(record)
        ready = self._collect(block=self.in_flight >= self.cfg.max_in_flight)
        for done in ready:
            yield self.emit(done)

    def finish_bundle(self) -> Iterator[object]:
        while self.in_flight:
            for done in self._collect(block=True):
                out = self.emit(done)
                if isinstance(out, pvalue.TaggedOutput):
                    yield pvalue.TaggedOutput(out.tag, GlobalWindows.windowed_value(out.value))
                else:
                    yield GlobalWindows.windowed_value(out)

    def teardown(self) -> None:
        self.pool.shutdown(wait=False)


class DownloadImages(beam.PTransform):
    """Fetch, validate and resize every candidate's image (a thread pool per worker)."""

    def __init__(self, cfg: DownloadConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, records: beam.PCollection) -> Split:
        spread = records | "SpreadUrls" >> beam.Reshuffle()
        return _split(spread, "FetchAndResize", _DownloadFn(self.cfg))


def _by_sha(record: Record) -> tuple[str, Record]:
    return record.sha256, record


class DedupImages(beam.PTransform):
    """Keep one sample per downloaded image content (SHA-256 of the original bytes).

    With `enabled=False` every sample passes (img2dataset's behaviour, used by benchmarks).
    """

    def __init__(self, enabled: bool = True) -> None:
        super().__init__()
        self.enabled = enabled

    def expand(self, records: beam.PCollection) -> Split:
        if not self.enabled:
            return Split(records, records.pipeline | "NoDuplicates" >> beam.Create([]))
        grouped = (
            records | "KeyBySha256" >> beam.Map(_by_sha) | "GroupBySha256" >> beam.GroupByKey()
        )
        return _split(
            grouped, "KeepFirstPerImage", _KeepFirstFn(Stage.DEDUP_IMAGE, Reason.DUPLICATE_IMAGE)
        )
