"""Inner-product k-NN search over eval-set descriptors: FAISS flat or IVF, GPU when present.

Exact search is a flat index (GPU fp16 when faiss has GPUs; else a torch CUDA matmul when
torch sees a GPU; else FAISS CPU). Eval sets above `ivf_min` vectors use IVF. Search is k-NN
(k <= 2048, GPU FAISS's cap) followed by a threshold, since GPU FAISS has no range search.

    index = build_index(eval_vectors, IndexConfig())
    sims, ids = index.search(train_vectors, k=10)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["IndexConfig", "SearchIndex", "build_index", "brute_force", "MAX_K"]

MAX_K = 2048


@dataclass(frozen=True)
class IndexConfig:
    """How to index: `kind` auto|flat|ivf, `device` auto|cpu|gpu."""

    kind: str = "auto"
    device: str = "auto"
    fp16: bool = True
    ivf_min: int = 2_000_000
    nlist: int = 0  # 0: about 4 * sqrt(n)
    nprobe: int = 32


class SearchIndex:
    """A built index; `search` returns (similarities, row ids), best first, -1 for none."""

    def __init__(self, backend: object, n: int, label: str) -> None:
        self.backend = backend
        self.n = n
        self.label = label

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` most similar rows for every query row."""
        k = max(1, min(k, self.n, MAX_K))
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if len(q) == 0 or self.n == 0:
            return np.zeros((len(q), k), np.float32), np.full((len(q), k), -1, np.int64)
        if isinstance(self.backend, _TorchFlat):
            return self.backend.search(q, k)
        sims, ids = self.backend.search(q, k)  # type: ignore[attr-defined]
        return sims.astype(np.float32), ids.astype(np.int64)


class _TorchFlat:
    """Exact inner product on a CUDA device with torch (when faiss has no GPU build)."""

    def __init__(self, vectors: np.ndarray, fp16: bool) -> None:
        import torch

        dtype = torch.float16 if fp16 else torch.float32
        self.dtype = dtype
        self.base = torch.from_numpy(vectors).to("cuda", dtype)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        out_s, out_i = [], []
        step = max(1, (1 << 28) // max(1, self.base.shape[0]))  # ~1.5 GB of scores per chunk
        for i in range(0, len(q), step):
            qq = torch.from_numpy(q[i : i + step]).to("cuda", self.dtype)
            s, idx = torch.topk((qq @ self.base.T).float(), k, dim=1)
            out_s.append(s.cpu().numpy())
            out_i.append(idx.cpu().numpy())
        return np.concatenate(out_s), np.concatenate(out_i).astype(np.int64)


def _faiss_gpus() -> int:
    try:
        import faiss
    except ImportError:
        return 0
    return int(faiss.get_num_gpus()) if hasattr(faiss, "get_num_gpus") else 0


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _flat(vectors: np.ndarray, cfg: IndexConfig) -> SearchIndex:
    n, d = vectors.shape
    want_gpu = cfg.device in ("auto", "gpu")
    if want_gpu and _faiss_gpus() > 0:
        import faiss

        res = faiss.StandardGpuResources()
        gcfg = faiss.GpuIndexFlatConfig()
        gcfg.useFloat16 = cfg.fp16
        index = faiss.GpuIndexFlatIP(res, d, gcfg)
        index.add(vectors)
        index.resources = res  # keep the resources alive with the index
        return SearchIndex(index, n, "faiss-gpu-flat" + ("-fp16" if cfg.fp16 else ""))
    if want_gpu and _torch_cuda():
        return SearchIndex(_TorchFlat(vectors, cfg.fp16), n, "torch-cuda-flat")
    import faiss

    index = faiss.IndexFlatIP(d)
    index.add(vectors)
    return SearchIndex(index, n, "faiss-cpu-flat")


def _ivf(vectors: np.ndarray, cfg: IndexConfig) -> SearchIndex:
    import faiss

    n, d = vectors.shape
    nlist = cfg.nlist or max(1, min(n // 39, int(4 * np.sqrt(n))))
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.add(vectors)
    index.nprobe = min(cfg.nprobe, nlist)
    label = "faiss-cpu-ivf"
    if cfg.device in ("auto", "gpu") and _faiss_gpus() > 0:
        res = faiss.StandardGpuResources()
        index = faiss.index_cpu_to_gpu(res, 0, index)
        index.resources = res
        label = "faiss-gpu-ivf"
    return SearchIndex(index, n, f"{label}{nlist}")


def build_index(vectors: np.ndarray, cfg: IndexConfig = IndexConfig()) -> SearchIndex:
    """An inner-product index over rows of `vectors` (L2-normalised for cosine)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    use_ivf = cfg.kind == "ivf" or (cfg.kind == "auto" and len(vectors) >= cfg.ivf_min)
    return _ivf(vectors, cfg) if use_ivf else _flat(vectors, cfg)


def brute_force(base: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference exact k-NN by numpy (tests and benchmarks)."""
    sims = queries.astype(np.float64) @ base.astype(np.float64).T
    k = min(k, base.shape[0])
    ids = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, ids, axis=1).astype(np.float32), ids.astype(np.int64)
