"""The GPU check of the overlap audit, in one run: search and embedding rates on one device.

    python bench/dedup_gpu.py                       # on the first GPU machine (about 3 min)
    python bench/dedup_gpu.py --device cpu --small  # dry run (the tests run it)

Prints, each a median of `--repeats` timed runs after a warm-up:
1. the device's measured fp16 matrix throughput (a large square matmul), and the bound it puts
   on exact search: queries/s <= TFLOPS / (2 * d * n_eval);
2. the torch range search (`dedup.range_search.TorchRange`: fp16 eval matrix resident,
   training blocks streamed from pinned memory, only entries above the threshold kept):
   queries/s, its share of the bound, and the time for 400M queries;
3. FAISS GPU (`GpuIndexFlatIP`, fp16) through `knn_range`, where the installed faiss has
   GPUs; otherwise the line says why not;
4. the torch classical descriptor (`dedup.descriptor_torch`) on decoded 256-px images
   already on the device, and from PIL images (host decode layout, one size group).
`--json PATH` writes the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from dedup.descriptor_torch import TorchDescriptor  # noqa: E402
from dedup.range_search import TorchRange, knn_range  # noqa: E402

TRAIN = 400_000_000


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _median_s(fn, device: str, repeats: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    _sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_tflops(device: str, n: int, repeats: int) -> float:
    """Measured fp16 (fp32 on CPU) dense matmul throughput in TFLOP/s."""
    import torch

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / _median_s(lambda: a @ b, device, repeats) / 1e12


def _unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def torch_search(args: argparse.Namespace, ev: np.ndarray, q: np.ndarray) -> dict:
    """Queries/s of the torch range search."""
    import torch

    rs = TorchRange(ev, device=args.device, dtype="float16")
    blocks = [torch.from_numpy(q[i : i + args.block]) for i in range(0, len(q), args.block)]
    if args.device.startswith("cuda"):  # what a loader hands over: pinned fp16 blocks
        blocks = [b.half().pin_memory() for b in blocks]
    found = []

    def run() -> None:
        found.append(len(rs.search(blocks, args.threshold, chunk=args.chunk)))

    secs = _median_s(run, args.device, args.repeats)
    return {"torch_qps": len(q) / secs, "torch_pairs": found[-1]}


def faiss_gpu_search(args: argparse.Namespace, ev: np.ndarray, q: np.ndarray) -> dict:
    """Queries/s of FAISS GPU through knn_range, or why it could not run."""
    try:
        import faiss
    except ImportError as e:
        return {"faiss_gpu": f"not run: faiss not importable ({e})"}
    gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    if not gpus or not hasattr(faiss, "StandardGpuResources"):
        return {"faiss_gpu": f"not run: faiss {faiss.__version__} is a CPU build (0 GPUs)"}
    res = faiss.StandardGpuResources()
    cfg = faiss.GpuIndexFlatConfig()
    cfg.useFloat16 = True
    index = faiss.GpuIndexFlatIP(res, ev.shape[1], cfg)
    index.add(ev)
    secs = _median_s(lambda: knn_range(index, q, args.threshold, k=16), "cpu", args.repeats)
    return {"faiss_gpu_qps": len(q) / secs}


def embedding(args: argparse.Namespace) -> dict:
    """Images/s of the torch descriptor: device-resident uint8 batch, and from PIL images."""
    import torch
    from PIL import Image

    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, (args.images, 256, 341, 3), dtype=np.uint8)
    td = TorchDescriptor(device=args.device)
    batch = torch.from_numpy(arr).to(args.device)

    def on_device() -> None:
        td.describe_squares(td.squares_of_batch(batch).permute(0, 2, 3, 1))

    pil = [Image.fromarray(a) for a in arr[: max(1, args.images // 4)]]
    return {
        "embed_device_ips": args.images / _median_s(on_device, args.device, args.repeats),
        "embed_pil_ips": len(pil) / _median_s(lambda: td.describe(pil), args.device, args.repeats),
    }


def report(r: dict, args: argparse.Namespace) -> None:
    """Print the numbers in one block."""
    bound = r["tflops"] * 1e12 / (2 * args.dim * args.eval)
    print(f"device {r['device_name']}: measured matmul {r['tflops']:.3g} TFLOP/s")
    print(f"exact-search bound at d={args.dim}, {args.eval:,} eval vectors: {bound:,.0f} queries/s")
    qps = r["torch_qps"]
    print(
        f"torch range search: {qps:,.0f} queries/s ({100 * qps / bound:.0f}% of the bound), "
        f"{r['torch_pairs']} pairs >= {args.threshold}; 400M queries: {TRAIN / qps / 60:,.1f} min"
    )
    if "faiss_gpu_qps" in r:
        fq = r["faiss_gpu_qps"]
        print(f"faiss-gpu flat fp16 + knn_range: {fq:,.0f} queries/s ({100 * fq / bound:.0f}%)")
    else:
        print(f"faiss-gpu: {r['faiss_gpu']}")
    print(
        f"torch descriptor: {r['embed_device_ips']:,.0f} images/s from decoded 256-px images on "
        f"the device, {r['embed_pil_ips']:,.0f} images/s from PIL images"
    )
    r["bound_qps"] = bound


def main() -> None:
    """Parse arguments, run every measurement, print (and optionally save) the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--small", action="store_true", help="tiny sizes (CPU dry run)")
    ap.add_argument("--threshold", type=float, default=0.35)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    big = not args.small
    args.dim = 256
    args.eval = 1_000_000 if big else 2_000
    args.queries = 2_000_000 if big else 4_000
    args.block, args.chunk = (65_536, 32_768) if big else (1_000, 1_024)
    args.images = 4_096 if big else 32
    run(args)


def run(args: argparse.Namespace) -> dict:
    """All measurements for `args`."""
    import torch

    rng = np.random.default_rng(0)
    ev, q = _unit_rows(rng, args.eval, args.dim), _unit_rows(rng, args.queries, args.dim)
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    r: dict = {
        "device_name": name,
        "tflops": matmul_tflops(args.device, 1024 if args.small else 8192, args.repeats),
    }
    r |= torch_search(args, ev, q)
    r |= (
        faiss_gpu_search(args, ev, q)
        if args.device.startswith("cuda")
        else {"faiss_gpu": "not run: --device cpu"}
    )
    r |= embedding(args)
    report(r, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r | {"args": {k: v for k, v in vars(args).items()}}, f, indent=2)
    return r


if __name__ == "__main__":
    main()
