"""Range search: every (training, eval) pair whose similarity reaches a threshold.

The audit needs every pair above the candidate threshold, not each row's top-k. Two paths:

- `TorchRange` (CUDA, or CPU for tests): the eval matrix stays resident in fp16 (bf16 or
  fp32 on request); training vectors stream in blocks from pinned host memory, copied on a
  side stream while the previous block multiplies; each score tile is compared with the
  threshold in its own dtype and only the entries above it leave the device (no top-k, no
  fp32 copy of the tile).
- `knn_range` (FAISS, whose GPU index has no range search): k-NN with k, then the
  threshold; rows whose k-th similarity still reaches it are searched again with 2k, up to
  `MAX_K`; a row that saturates even then is reported, never silently cut.

Both return `Pairs` (train row, eval row, similarity), sorted by (train, eval), equal to FAISS
CPU's `range_search` on the same vectors except within the dtype's rounding of the threshold.

    pairs = TorchRange(eval_vectors, device="cuda").search(train_blocks, threshold=0.35)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dedup.index import MAX_K

__all__ = ["Pairs", "TorchRange", "knn_range", "faiss_range", "Saturated"]


@dataclass(frozen=True)
class Pairs:
    """Pairs above a threshold: parallel arrays, sorted by (train, eval)."""

    train: np.ndarray
    eval: np.ndarray
    sim: np.ndarray

    @classmethod
    def build(cls, train: np.ndarray, ev: np.ndarray, sim: np.ndarray) -> Pairs:
        """Sorted, typed pairs."""
        order = np.lexsort((ev, train))
        return cls(
            train[order].astype(np.int64), ev[order].astype(np.int64), sim[order].astype(np.float32)
        )

    def keys(self) -> set[tuple[int, int]]:
        """The (train, eval) pairs as a set."""
        return set(zip(self.train.tolist(), self.eval.tolist(), strict=True))

    def __len__(self) -> int:
        return len(self.train)


class Saturated(RuntimeError):
    """A query has more than `MAX_K` eval vectors above the threshold."""


class TorchRange:
    """Exact range search with torch: resident eval matrix, streamed training blocks."""

    def __init__(
        self, eval_vectors: np.ndarray, device: str = "cuda", dtype: str = "float16"
    ) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        if self.device.type == "cpu" and self.dtype == torch.float16:
            self.dtype = torch.float32  # CPU fp16 matmul is slow and not what a GPU does
        self.eval = torch.from_numpy(np.ascontiguousarray(eval_vectors, np.float32)).to(
            self.device, self.dtype
        )

    def _upload(self, block, stream):  # type: ignore[no-untyped-def]
        """A block on the device; numpy or torch, best a pinned fp16 torch tensor on CUDA."""
        torch = self.torch
        t = (
            block
            if isinstance(block, torch.Tensor)
            else torch.from_numpy(np.ascontiguousarray(block))
        )
        if self.device.type != "cuda":
            return t.to(self.dtype)
        with torch.cuda.stream(stream):
            t = t if t.is_pinned() else t.pin_memory()
            out = t.to(self.device, non_blocking=True).to(self.dtype)
        out.record_stream(torch.cuda.current_stream())
        return out

    def _tile(self, q, start: int, threshold: float, chunk: int):  # type: ignore[no-untyped-def]
        """Pairs above `threshold` for one uploaded block, eval side in chunks of `chunk`."""
        torch = self.torch
        thr = torch.tensor(threshold, dtype=self.dtype, device=self.device)
        parts = []
        for c in range(0, self.eval.shape[0], chunk):
            scores = q @ self.eval[c : c + chunk].T
            rows, cols = torch.nonzero(scores >= thr, as_tuple=True)
            parts.append((rows + start, cols + c, scores[rows, cols]))
        return parts

    def search(self, blocks: Iterable[np.ndarray], threshold: float, chunk: int = 65_536) -> Pairs:
        """All pairs of the streamed training blocks with similarity >= `threshold`."""
        torch = self.torch
        stream = torch.cuda.Stream() if self.device.type == "cuda" else None
        found, start, it = [], 0, iter(blocks)
        nxt = next(it, None)
        pending = None if nxt is None else (self._upload(nxt, stream), len(nxt))
        while pending is not None:
            if stream is not None:
                torch.cuda.current_stream().wait_stream(stream)
            q, n = pending
            nxt = next(it, None)  # the next copy overlaps this block's multiply
            pending = None if nxt is None else (self._upload(nxt, stream), len(nxt))
            found.extend(self._tile(q, start, threshold, chunk))
            start += n
        return _collect(found)


def _collect(parts: list) -> Pairs:  # type: ignore[type-arg]
    if not parts:
        empty = np.zeros(0, np.int64)
        return Pairs.build(empty, empty, np.zeros(0, np.float32))
    cat = [np.concatenate([p[i].cpu().float().numpy() for p in parts]) for i in range(3)]
    return Pairs.build(cat[0].astype(np.int64), cat[1].astype(np.int64), cat[2])


def knn_range(index, queries: np.ndarray, threshold: float, k: int = 64) -> Pairs:  # type: ignore[no-untyped-def]
    """Range search through a k-NN index (FAISS GPU): k doubles until every row is complete."""
    rows = np.arange(len(queries))
    out_t, out_e, out_s = [], [], []
    while len(rows):
        kk = min(k, index.ntotal, MAX_K)
        sims, ids = index.search(np.ascontiguousarray(queries[rows], np.float32), kk)
        full = (sims[:, -1] >= threshold) & (kk < index.ntotal)  # the k-th still qualifies
        if full.any() and kk >= MAX_K:
            raise Saturated(f"{int(full.sum())} queries have > {MAX_K} eval vectors above it")
        done = ~full
        hit = (sims >= threshold) & (ids >= 0) & done[:, None]
        r, c = np.nonzero(hit)
        out_t.append(rows[r])
        out_e.append(ids[r, c])
        out_s.append(sims[r, c])
        rows, k = rows[full], kk * 2
    return Pairs.build(np.concatenate(out_t), np.concatenate(out_e), np.concatenate(out_s))


def faiss_range(eval_vectors: np.ndarray, queries: np.ndarray, threshold: float) -> Pairs:
    """The reference: FAISS CPU exact range search (pairs with similarity >= threshold)."""
    import faiss

    index = faiss.IndexFlatIP(eval_vectors.shape[1])
    index.add(np.ascontiguousarray(eval_vectors, np.float32))
    radius = float(np.nextafter(np.float32(threshold), np.float32(-np.inf)))  # FAISS keeps > r
    lims, sims, ids = index.range_search(np.ascontiguousarray(queries, np.float32), radius)
    train = np.repeat(np.arange(len(queries)), np.diff(lims.astype(np.int64)))
    return Pairs.build(train, ids, sims)
