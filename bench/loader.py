"""Loader benchmark: our streaming loader vs the `webdataset` library, same shards, same work.

    .venv/bin/python bench/loader.py [--shards N --per-shard N --size 224 --workers 0 2 --runs 3]

Both sides read the same procedural shards (256 px JPEGs, the pipeline's maximum shorter side),
decode with PIL, apply the same random-resized-crop geometry (scale 0.9-1.0, bicubic) to
`size`, normalise to float (B, 3, size, size), tokenise captions with the same BPE tokenizer and
batch. webdataset: `decode("pil")`, then crop + resize + per-sample normalise (the usual
torchvision-style recipe). Ours: crop box from the header, JPEG draft decoding, one
`resize(box=...)`, uint8 batches across the worker boundary, normalisation once per batch.
Prints samples/s (median of `--runs` full passes) per worker count, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from train.config import DataConfig  # noqa: E402
from train.data import StreamingDataset, make_loader  # noqa: E402
from train.synthetic import concepts, write_concept_shards  # noqa: E402
from train.tokenizer import CaptionTokenizer, train_tokenizer  # noqa: E402
from train.transform import MEAN, STD, normalize, random_resized_box  # noqa: E402

__all__ = ["run_ours", "run_webdataset", "main"]

_MEAN = np.array(MEAN, dtype=np.float32).reshape(3, 1, 1)
_STD = np.array(STD, dtype=np.float32).reshape(3, 1, 1)


def _wds_crop(size: int):  # type: ignore[no-untyped-def]
    """PIL image -> normalised float tensor (3, size, size): crop, resize, ToTensor, Normalize."""
    from PIL import Image

    def apply(img: Image.Image) -> torch.Tensor:
        box = random_resized_box(img.width, img.height, random.Random(), scale=(0.9, 1.0))
        out = img.crop(box).resize((size, size), Image.Resampling.BICUBIC)
        arr = np.asarray(out, dtype=np.float32).transpose(2, 0, 1) / 255.0
        return torch.from_numpy((arr - _MEAN) / _STD)

    return apply


class _Collate:
    """Stack images and tokenise captions (picklable for workers)."""

    def __init__(self, tok_json: str, ctx: int) -> None:
        self.tok_json, self.ctx, self.tok = tok_json, ctx, None

    def __call__(self, samples: list) -> tuple[torch.Tensor, torch.Tensor]:
        if self.tok is None:
            self.tok = CaptionTokenizer.from_json(self.tok_json)
        images = torch.stack([s[0] for s in samples])
        return images, self.tok.encode_batch([s[1] for s in samples], self.ctx)


def run_webdataset(
    urls: list[str], tok: CaptionTokenizer, size: int, batch: int, workers: int
) -> float:
    """One pass with the webdataset library; returns samples/s."""
    import webdataset as wds

    ds = (
        wds.WebDataset(
            urls, shardshuffle=len(urls), empty_check=False, nodesplitter=wds.split_by_node
        )
        .shuffle(1000)
        .decode("pil")
        .to_tuple("jpg", "txt")
        .map_tuple(_wds_crop(size), lambda t: t)
        .batched(batch, collation_fn=_Collate(tok.to_json(), 77), partial=False)
    )
    loader = DataLoader(
        ds, batch_size=None, num_workers=workers, prefetch_factor=4 if workers else None
    )
    start, n = time.perf_counter(), 0
    for images, _tokens in loader:
        n += images.shape[0]
    return n / (time.perf_counter() - start)


def run_ours(urls: list[str], tok: CaptionTokenizer, size: int, batch: int, workers: int) -> float:
    """One pass with train.data (normalisation included); returns samples/s."""
    cfg = DataConfig(shards=tuple(urls), batch_size=batch, image_size=size, workers=workers)
    start, n = time.perf_counter(), 0
    for item in make_loader(StreamingDataset(cfg, tok)):
        if item["images"] is not None:
            normalize(item["images"])
            n += item["images"].shape[0]
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    """Write shards, run both loaders, print the table."""
    p = argparse.ArgumentParser(
        allow_abbrev=False,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--per-shard", type=int, default=200)
    p.add_argument("--image", type=int, default=256, help="stored image side")
    p.add_argument("--size", type=int, default=224, help="crop output side")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        urls = write_concept_shards(tmp, args.shards, args.per_shard, seed=0, size=args.image)
        tok = train_tokenizer([f"a photo of a {c}" for c in concepts()], 300)
        print(
            f"{args.shards} shards x {args.per_shard} samples, {args.image}px JPEG -> {args.size}px, batch {args.batch}"
        )
        print(f"{'workers':>7} | {'webdataset':>12} | {'ours':>12} | ratio")
        for workers in args.workers:
            base = [
                run_webdataset(urls, tok, args.size, args.batch, workers) for _ in range(args.runs)
            ]
            ours = [run_ours(urls, tok, args.size, args.batch, workers) for _ in range(args.runs)]
            b, o = statistics.median(base), statistics.median(ours)
            print(f"{workers:>7} | {b:>8.1f} s/s | {o:>8.1f} s/s | {o / b:.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
