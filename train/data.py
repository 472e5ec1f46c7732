"""The streaming training loader: shards -> samples -> shuffle -> decode -> batches.

    ds = StreamingDataset(cfg, tokenizer, rank=0, world_size=1)
    ds.set_position(DataPosition(epoch=0))
    for batch in make_loader(ds):   # {"images": uint8 (B,H,W,3), "tokens", "keys", "stats", ...}
        ...

Shards are shuffled per epoch (seeded), split by rank then by DataLoader worker, read as
streams (local or s3://), filtered by the exclusion list, passed through a sample shuffle
buffer, decoded and cropped, tokenised and batched inside each worker. Every random choice is
a pure function of (seed, epoch, rank, worker) or of (seed, epoch, key), so a checkpoint's
`DataPosition` (batches taken from each worker) replays the stream exactly on resume.
Bad samples are skipped and counted in each batch's `stats`, never fatal.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pipeline import storage
from train.config import DataConfig
from train.shards import iter_samples
from train.tokenizer import CaptionTokenizer
from train.transform import center_box, load_image, random_resized_box

__all__ = [
    "DataPosition",
    "StreamingDataset",
    "assign_shards",
    "load_exclusion",
    "make_loader",
    "shuffle_buffer",
]

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass(frozen=True)
class DataPosition:
    """Where the stream is: the epoch, items taken from each logical worker, who serves next."""

    epoch: int = 0
    taken: tuple[int, ...] = ()  # items (batches and end-of-stream stats) per logical worker
    next_worker: int = 0  # the logical worker the DataLoader's round-robin serves next

    def advance(self, worker: int, workers: int) -> DataPosition:
        """The position after one more item from logical `worker`."""
        taken = list(self.taken or (0,) * workers)
        taken[worker] += 1
        return DataPosition(self.epoch, tuple(taken), (worker + 1) % workers)


def assign_shards(
    urls: list[str], epoch: int, seed: int, rank: int, world: int, worker: int, workers: int,
    shuffle: bool = True,
) -> list[str]:  # fmt: skip
    """This (rank, worker)'s shards for `epoch`: a seeded shuffle, then every world-th, workers-th."""
    order = list(urls)
    if shuffle:
        random.Random(f"shards:{seed}:{epoch}").shuffle(order)
    return order[rank::world][worker::workers]


def load_exclusion(path: str) -> frozenset[str]:
    """Keys to skip: a text file (one key per line, `#` comments) or a parquet `key` column."""
    if not path:
        return frozenset()
    data = storage.read_bytes(path)
    if path.endswith(".parquet"):
        import io

        import pyarrow.parquet as pq

        return frozenset(
            str(k) for k in pq.read_table(io.BytesIO(data), columns=["key"])["key"].to_pylist()
        )
    lines = (line.split("#", 1)[0].strip() for line in data.decode("utf-8").splitlines())
    return frozenset(line for line in lines if line)


def shuffle_buffer(samples: Iterator[dict], size: int, rng: random.Random) -> Iterator[dict]:
    """Yield samples in a locally shuffled order using a buffer of `size`."""
    if size <= 1:
        yield from samples
        return
    buf: list[dict] = []
    for sample in samples:
        if len(buf) < size:
            buf.append(sample)
            continue
        i = rng.randrange(size)
        buf[i], sample = sample, buf[i]
        yield sample
    rng.shuffle(buf)
    yield from buf


class StreamingDataset(IterableDataset):
    """An IterableDataset of ready batches; see the module docstring."""

    def __init__(
        self, cfg: DataConfig, tokenizer: CaptionTokenizer, rank: int = 0, world_size: int = 1
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.urls = list(cfg.shards)
        self.tokenizer_json = tokenizer.to_json()
        self.rank, self.world_size = rank, world_size
        self.exclude = load_exclusion(cfg.exclude)
        self.position = DataPosition()

    @property
    def workers(self) -> int:
        """Logical workers per rank (at least one)."""
        return max(1, self.cfg.workers)

    def set_position(self, position: DataPosition) -> None:
        """Start the next iteration at `position` (call before building the DataLoader)."""
        self.position = position

    def logical_worker(self) -> int:
        """This process's logical worker: the physical id rotated so the round-robin resumes."""
        info = get_worker_info()
        physical = info.id if info else 0
        return (physical + self.position.next_worker) % self.workers

    def __iter__(self) -> Iterator[dict]:
        """Batches, then one last item with `images=None` carrying the end-of-stream stats."""
        worker = self.logical_worker()
        stats: Counter[str] = Counter()
        skip = self.position.taken[worker] if self.position.taken else 0
        items = itertools.chain(self._batches(worker, stats), [{"images": None}])
        for index, item in enumerate(items):
            if index < skip:
                stats.clear()  # counted before the checkpoint
                continue
            item.update(worker=worker, index=index, stats=dict(stats))
            stats.clear()
            yield item

    def _urls(self, worker: int) -> Iterator[str]:
        """Shard URLs for this rank and worker: one pass, or endless draws when resampled."""
        epoch, seed = self.position.epoch, self.cfg.seed
        if not self.cfg.resampled:
            yield from assign_shards(
                self.urls, epoch, seed, self.rank, self.world_size, worker, self.workers,
                self.cfg.shuffle_shards,
            )  # fmt: skip
            return
        rng = random.Random(f"resample:{seed}:{epoch}:{self.rank}:{worker}")
        while True:
            yield rng.choice(self.urls)

    def _raw(self, worker: int, stats: Counter[str]) -> Iterator[dict]:
        """Raw samples with an image and a caption, exclusions removed."""
        for url in self._urls(worker):
            for sample in iter_samples(url, stats):
                if sample["__key__"] in self.exclude:
                    stats["excluded"] += 1
                elif not _image_bytes(sample) or "txt" not in sample:
                    stats["incomplete_sample"] += 1
                else:
                    yield sample

    def _decoded(self, worker: int, stats: Counter[str]) -> Iterator[tuple[str, np.ndarray, str]]:
        """(key, image, caption) after the shuffle buffer; undecodable samples counted."""
        rng = random.Random(f"buffer:{self.cfg.seed}:{self.position.epoch}:{self.rank}:{worker}")
        for sample in shuffle_buffer(self._raw(worker, stats), self.cfg.shuffle_buffer, rng):
            key = sample["__key__"]
            try:
                image = load_image(_image_bytes(sample), self.cfg.image_size, self._box_fn(key))
                caption = sample["txt"].decode("utf-8")
            except Exception:  # noqa: BLE001 - corrupt content of any kind is a counted skip
                stats["corrupt_sample"] += 1
                continue
            stats["samples"] += 1
            yield key, image, caption

    def _box_fn(self, key: str):  # type: ignore[no-untyped-def]
        """The crop for one sample: random per (seed, epoch, key), or centred."""
        if not self.cfg.train_crop:
            return center_box
        rng = random.Random(f"crop:{self.cfg.seed}:{self.position.epoch}:{key}")
        return functools.partial(random_resized_box, rng=rng, scale=self.cfg.crop_scale)

    def _batches(self, worker: int, stats: Counter[str]) -> Iterator[dict]:
        """Full batches (a short tail is dropped and counted)."""
        tokenizer = CaptionTokenizer.from_json(self.tokenizer_json)
        pending: list[tuple[str, np.ndarray, str]] = []
        for item in self._decoded(worker, stats):
            pending.append(item)
            if len(pending) == self.cfg.batch_size:
                yield _collate(pending, tokenizer, self.cfg.context_length)
                pending = []
        stats["tail_dropped"] += len(pending)


def _image_bytes(sample: dict) -> bytes:
    """The image member of a sample (jpg, jpeg, png or webp), or b''."""
    for ext in ("jpg", "jpeg", "png", "webp"):
        if ext in sample:
            return sample[ext]
    return b""


def _collate(items: list[tuple[str, np.ndarray, str]], tok: CaptionTokenizer, ctx: int) -> dict:
    """Stack images and tokenise captions."""
    return {
        "images": torch.from_numpy(np.stack([image for _, image, _ in items])),
        "tokens": tok.encode_batch([caption for _, _, caption in items], ctx),
        "keys": [key for key, _, _ in items],
    }


def make_loader(dataset: StreamingDataset) -> DataLoader:
    """A DataLoader over ready batches, with the dataset's worker count."""
    workers = dataset.cfg.workers
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
    )
