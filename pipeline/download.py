"""The download stage: fetch images concurrently within each worker, validate and resize them.

`download_record` is the pure-ish unit (fetcher in, record out); `DownloadImages` batches records
and runs a thread pool per worker; `DedupImages` keeps one sample per image content hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import apache_beam as beam

from pipeline.fetch import FetchConfig, Fetcher
from pipeline.imaging import ImageConfig, ImageRejected, process_image
from pipeline.schema import Reason, Record, Stage, reject
from pipeline.stages import Split, _Counted, _KeepFirstFn, _split

__all__ = ["DownloadConfig", "download_record", "DownloadImages", "DedupImages"]


@dataclass(frozen=True)
class DownloadConfig:
    """Fetching and image settings of the download stage."""

    fetch: FetchConfig = field(default_factory=FetchConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    threads: int = 16
    batch_size: int = 64


def download_record(record: Record, fetcher: Fetcher, cfg: ImageConfig) -> Record:
    """Fetch and process one candidate; returns the sample or the record with a drop reason."""
    result = fetcher.fetch(record.url)
    if result.reason:
        stage = Stage.DOWNLOAD
        return reject(record, stage, result.reason, result.detail, http_status=result.status)
    try:
        img = process_image(result.body, cfg)
    except ImageRejected as err:
        return reject(record, Stage.IMAGE, err.reason, err.detail, http_status=result.status)
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
        http_status=result.status,
    )


class _DownloadBatchFn(_Counted):
    stage = Stage.DOWNLOAD

    def __init__(self, cfg: DownloadConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def setup(self) -> None:
        self.fetcher = Fetcher(self.cfg.fetch)
        self.pool = ThreadPoolExecutor(self.cfg.threads, thread_name_prefix="wit-download")

    def process(self, batch: list[Record]) -> Iterator[object]:
        results = self.pool.map(lambda r: download_record(r, self.fetcher, self.cfg.image), batch)
        for record in results:
            yield self.emit(record)

    def teardown(self) -> None:
        self.pool.shutdown(wait=False)


class DownloadImages(beam.PTransform):
    """Fetch, validate and resize every candidate's image (a thread pool per worker)."""

    def __init__(self, cfg: DownloadConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, records: beam.PCollection) -> Split:
        batches = (
            records
            | "SpreadUrls" >> beam.Reshuffle()
            | "Batch"
            >> beam.BatchElements(
                min_batch_size=self.cfg.batch_size, max_batch_size=self.cfg.batch_size
            )
        )
        return _split(batches, "FetchAndResize", _DownloadBatchFn(self.cfg))


def _by_sha(record: Record) -> tuple[str, Record]:
    return record.sha256, record


class DedupImages(beam.PTransform):
    """Keep one sample per downloaded image content (SHA-256 of the original bytes)."""

    def expand(self, records: beam.PCollection) -> Split:
        grouped = (
            records | "KeyBySha256" >> beam.Map(_by_sha) | "GroupBySha256" >> beam.GroupByKey()
        )
        return _split(
            grouped, "KeepFirstPerImage", _KeepFirstFn(Stage.DEDUP_IMAGE, Reason.DUPLICATE_IMAGE)
        )
