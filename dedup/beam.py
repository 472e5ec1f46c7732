"""Embedding as a Beam stage: the embedder opens in `setup()`, images are embedded in batches.

    keyed_vectors = (
        p
        | "ReadImages" >> beam.Create([(key, jpeg_bytes), ...])
        | "Embed" >> EmbedImages(EmbedConfig())
    )

Each output is `(key, vector)` with the raw descriptor as float32 numpy (whitening happens at
search time, per eval set). Undecodable images are counted and dropped with a reason.
"""

from __future__ import annotations

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from dedup.descriptor import decode
from dedup.embed import EmbedConfig, Embedder, make_embedder

__all__ = ["EmbedDoFn", "EmbedImages"]


class EmbedDoFn(beam.DoFn):
    """Batched (key, image bytes) -> (key, descriptor); model loaded once per worker."""

    def __init__(self, cfg: EmbedConfig) -> None:
        self.cfg = cfg
        self.embedder: Embedder | None = None
        self.embedded = Metrics.counter("dedup", "embedded")
        self.corrupt = Metrics.counter("dedup", "corrupt_image")

    def setup(self) -> None:
        """Open the embedder (weights, CUDA) once per worker."""
        self.embedder = make_embedder(self.cfg)

    def process(self, batch: list[tuple[str, bytes]]):  # type: ignore[no-untyped-def]
        """Embed one batch; yields (key, vector) per decodable image."""
        keys, images = [], []
        for key, data in batch:
            try:
                images.append(decode(data, 128))
                keys.append(key)
            except Exception:  # noqa: BLE001 - any decode failure is a recorded drop
                self.corrupt.inc()
        if not images:
            return
        assert self.embedder is not None
        vectors = self.embedder.embed(images)
        self.embedded.inc(len(keys))
        for key, vec in zip(keys, vectors, strict=True):
            yield key, np.asarray(vec, dtype=np.float32)


class EmbedImages(beam.PTransform):
    """(key, image bytes) -> (key, descriptor), batched for the accelerator."""

    def __init__(self, cfg: EmbedConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, pcoll):  # type: ignore[no-untyped-def]
        return (
            pcoll
            | "Batch" >> beam.BatchElements(min_batch_size=8, max_batch_size=self.cfg.batch_size)
            | "Embed" >> beam.ParDo(EmbedDoFn(self.cfg))
        )
