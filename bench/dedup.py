"""Benchmark of near-duplicate detection: quality per alteration, embedding and search rates.

    python bench/dedup.py                 # quality on ../shared/data/imagenet-samples + rates
    python bench/dedup.py --quick         # fewer images (smoke run)
    python bench/dedup.py --rates-only    # images/s and queries/s only (GPU machines too)
    python bench/dedup.py --compare-cnn [--cnn cnn.pt]  # classical vs a self-trained CNN

Quality: half the photos are the eval set, altered copies of part of them (each passed through
the shard encoding) are queries, the other half (distinct photos) are the negatives. Precision
and recall per alteration are printed at the calibrated threshold and at the shipped floor.
Rates are medians of repeated runs on this machine (CPU, or the GPU where there is one).

`--compare-cnn` holds the last 200 photos out for training a small CNN with InfoNCE on
augmented pairs (`dedup/train_descriptor.py`, plus procedural pictures; skipped when `--cnn`
names a trained one) and compares it with the classical descriptor on the first 800 photos
(400 eval, 400 distinct), each at its own threshold calibrated for precision 0.99.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from dedup import transforms  # noqa: E402
from dedup.calibrate import pick_threshold  # noqa: E402
from dedup.descriptor import decode  # noqa: E402
from dedup.embed import ClassicalEmbedder, EmbedConfig  # noqa: E402
from dedup.index import IndexConfig, build_index  # noqa: E402
from dedup.matcher import EvalIndex, embed_in_batches  # noqa: E402
from dedup.overlap import CLASSICAL_FLOOR  # noqa: E402
from dedup.whiten import l2n  # noqa: E402

PHOTOS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "imagenet-samples")


def _photos(n: int) -> list:
    files = sorted(f for f in os.listdir(PHOTOS) if f.endswith(".JPEG"))[:n]
    out = []
    for f in files:
        with open(os.path.join(PHOTOS, f), "rb") as fh:
            out.append(decode(fh.read(), 360))
    return out


def quality(n_photos: int, n_copies: int) -> None:
    """Print precision/recall per alteration for the classical descriptor."""
    photos = _photos(n_photos)
    evals, distinct = photos[0::2], photos[1::2]
    thr, neg, pos, _ = _measure(
        ClassicalEmbedder(), EmbedConfig(), evals, distinct, n_copies, CLASSICAL_FLOOR
    )
    print(f"eval {len(evals)} photos, {len(distinct)} distinct photos, {n_copies} copies each")
    print(f"distinct max similarity {neg.max():.3f}, 99th pct {np.quantile(neg, 0.99):.3f}")
    for t, label in ((thr, "calibrated (precision 0.99)"), (CLASSICAL_FLOOR, "floor")):
        fp = int((neg >= t).sum())
        print(f"\nthreshold {t:.3f} [{label}]; false positives {fp}/{len(neg)} distinct")
        print(f"{'alteration':<12} {'recall':>7} {'precision':>10}")
        for name, p in pos.items():
            tp = int((p >= t).sum())
            prec = tp / (tp + fp) if tp + fp else 1.0
            print(f"{name:<12} {tp / len(p):>7.3f} {prec:>10.3f}")


def _measure(emb, cfg: EmbedConfig, evals: list, distinct: list, n_copies: int, floor: float):  # type: ignore[no-untyped-def]
    """(threshold, distinct top-1 sims, {alteration: positive sims}, images/s) for one embedder."""
    neg_imgs = [decode(transforms.as_shard_jpeg(d)) for d in distinct]
    t = time.perf_counter()
    bg = embed_in_batches(emb, neg_imgs)
    rate = len(neg_imgs) / (time.perf_counter() - t)
    ids = [str(i) for i in range(len(evals))]
    index = EvalIndex.build(ids, evals, emb, cfg, IndexConfig(device="cpu"), bg)
    neg = index.match(index.project(bg), k=1)[0][:, 0]
    pos = {}
    for name in transforms.TRANSFORMS:
        copies = [
            decode(transforms.as_shard_jpeg(transforms.apply(name, evals[i], i)))
            for i in range(n_copies)
        ]
        sims, got = index.match(index.project(emb.embed(copies)), k=1)
        pos[name] = np.where(got[:, 0] == np.arange(n_copies), sims[:, 0], -1.0)
    thr = pick_threshold(np.concatenate(list(pos.values())), neg, 0.99, floor)
    return thr, neg, pos, rate


def compare_cnn(cnn: str, n_copies: int, minutes: float) -> None:
    """Classical vs a self-trained InfoNCE CNN on photos the CNN never saw."""
    from dedup.embed import make_embedder
    from dedup.train_descriptor import TrainDescriptorConfig, train

    if not cnn:
        cnn = os.path.join(tempfile.gettempdir(), "wit-cnn-descriptor.pt")
        cfg = TrainDescriptorConfig(
            out=cnn, photos=PHOTOS, photo_slice=(800, 1000), minutes=minutes
        )
        print(f"trained CNN: {train(cfg)}")
    photos = _photos(800)
    evals, distinct = photos[0::2], photos[1::2]
    cnn_cfg = EmbedConfig(kind="torchscript", model_path=cnn, input_size=64, device="cpu")
    runs = {
        "classical": _measure(ClassicalEmbedder(), EmbedConfig(), evals, distinct, n_copies, CLASSICAL_FLOOR),
        "cnn-infonce": _measure(make_embedder(cnn_cfg), cnn_cfg, evals, distinct, n_copies, 0.0),
    }  # fmt: skip
    print(f"\neval {len(evals)}, distinct {len(distinct)}, {n_copies} copies per alteration")
    print(f"{'':<12}" + "".join(f"{k:>14}" for k in runs))
    rows = {
        "threshold": [r[0] for r in runs.values()],
        "neg max": [float(r[1].max()) for r in runs.values()],
        "false pos": [int((r[1] >= r[0]).sum()) for r in runs.values()],
        "images/s": [r[3] for r in runs.values()],
    }
    for label, vals in rows.items():
        print(f"{label:<12}" + "".join(f"{v:>14.3f}" for v in vals))
    for name in transforms.TRANSFORMS:
        recalls = [float((r[2][name] >= r[0]).mean()) for r in runs.values()]
        print(f"{name:<12}" + "".join(f"{v:>14.3f}" for v in recalls))
    mild = [np.mean([(r[2][n] >= r[0]).mean() for n in transforms.MILD]) for r in runs.values()]
    hard = [np.mean([(r[2][n] >= r[0]).mean() for n in transforms.HARD]) for r in runs.values()]
    print(f"{'mean mild':<12}" + "".join(f"{v:>14.3f}" for v in mild))
    print(f"{'mean hard':<12}" + "".join(f"{v:>14.3f}" for v in hard))


def _median_rate(fn, n: int, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n / statistics.median(times)


def rates(n_images: int, n_eval: int, n_queries: int, device: str) -> None:
    """Print embedding images/s and search queries/s (medians of 3)."""
    img = transforms.as_shard_jpeg(transforms.apply("resize", _synthetic(), 0))
    data = [img] * n_images
    emb = ClassicalEmbedder()
    r_embed = _median_rate(lambda: emb.embed([decode(d, 128) for d in data]), n_images)
    print(f"\nembedding (decode + describe, 1 process): {r_embed:,.0f} images/s")
    rng = np.random.default_rng(0)
    base = l2n(rng.normal(size=(n_eval, 256)))
    queries = l2n(rng.normal(size=(n_queries, 256)))
    for kind in ("flat", "ivf"):
        index = build_index(base, IndexConfig(kind=kind, device=device))
        r = _median_rate(lambda index=index: index.search(queries, 10), n_queries)
        print(f"search {index.label} over {n_eval:,} eval vectors, k=10: {r:,.0f} queries/s")


def _synthetic():  # type: ignore[no-untyped-def]
    from PIL import Image

    rng = np.random.default_rng(1)
    arr = (rng.random((300, 400, 3)) * 255).astype(np.uint8)
    return Image.fromarray(arr)


def main() -> None:
    """Parse arguments and run the chosen parts."""
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rates-only", action="store_true")
    ap.add_argument("--device", default="cpu", choices=["cpu", "auto", "gpu"])
    ap.add_argument("--eval-vectors", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--gpu", action="store_true", help="measure on the CUDA device only")
    ap.add_argument("--compare-cnn", action="store_true", help="classical vs self-trained CNN")
    ap.add_argument("--cnn", default="", help="a trained CNN (TorchScript); else train one")
    ap.add_argument("--cnn-minutes", type=float, default=4.0)
    args = ap.parse_args()
    if args.compare_cnn:
        compare_cnn(args.cnn, 50 if args.quick else 200, args.cnn_minutes)
        return
    if args.gpu:
        gpu_rates(args.eval_vectors, args.queries)
        return
    if not args.rates_only:
        if not os.path.isdir(PHOTOS):
            print(f"skip quality: {PHOTOS} absent")
        else:
            quality(200 if args.quick else 1000, 50 if args.quick else 200)
    n = 200 if args.quick else 1000
    rates(n, args.eval_vectors, args.queries // (10 if args.quick else 1), args.device)


def gpu_rates(n_eval: int, n_queries: int) -> None:
    """Embedding (a TorchScript CNN on CUDA) and exact fp16 search rates on one GPU."""

    import torch

    from dedup.embed import make_embedder

    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 64, 7, 2, 3),
        torch.nn.ReLU(),
        torch.nn.Conv2d(64, 128, 3, 2, 1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(128, 256, 3, 2, 1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
    )
    path = os.path.join(tempfile.mkdtemp(), "cnn.pt")
    torch.jit.script(net).save(path)
    emb = make_embedder(EmbedConfig(kind="torchscript", model_path=path, batch_size=256))
    imgs = [decode(transforms.as_shard_jpeg(_synthetic()), 256)] * 1024
    emb.embed(imgs[:256])
    r = _median_rate(lambda: emb.embed(imgs), len(imgs))
    print(
        f"\nTorchScript CNN on {torch.cuda.get_device_name(0)} incl. PIL preprocessing: "
        f"{r:,.0f} images/s"
    )
    rng = np.random.default_rng(0)
    base = l2n(rng.normal(size=(n_eval, 256)))
    queries = l2n(rng.normal(size=(n_queries, 256)))
    index = build_index(base, IndexConfig(kind="flat", device="gpu"))
    index.search(queries[:1000], 10)
    r = _median_rate(lambda: index.search(queries, 10), n_queries)
    print(f"search {index.label} over {n_eval:,} eval vectors, k=10: {r:,.0f} queries/s")


if __name__ == "__main__":
    main()
