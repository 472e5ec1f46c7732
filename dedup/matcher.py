"""One eval set made searchable: its images' views embedded, whitened and indexed.

`EvalIndex.build` embeds every eval image in several views (crops and mirror images),
fits the whitening (classical descriptor, or when asked) on those views plus a background
sample of training images, and indexes them. `match` returns, for each query row, the top
eval images by similarity (max over an image's views).

    ev = EvalIndex.build(ids, images, embedder, EmbedConfig(), IndexConfig(), background_raw)
    sims, eval_idx = ev.match(ev.project(embedder.embed(train_images)), k=5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from dedup.embed import EmbedConfig, Embedder, eval_views
from dedup.index import IndexConfig, SearchIndex, build_index
from dedup.whiten import Whitening, l2n

__all__ = ["EvalIndex", "embed_in_batches"]


def embed_in_batches(
    embedder: Embedder, images: Sequence[Image.Image], batch: int = 256
) -> np.ndarray:
    """Embed a long list of images batch by batch."""
    parts = [embedder.embed(images[i : i + batch]) for i in range(0, len(images), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def _whitening(
    cfg: EmbedConfig, raw: np.ndarray, background: np.ndarray | None
) -> Whitening | None:
    if cfg.whiten == "none" or (cfg.whiten == "auto" and cfg.kind != "classical"):
        return None
    if cfg.whiten != "auto":
        return Whitening.load(cfg.whiten)
    fit_on = raw if background is None or not len(background) else np.concatenate([raw, background])
    return Whitening.fit(fit_on, dim=cfg.whiten_dim)


@dataclass(frozen=True)
class EvalIndex:
    """Indexed views of one eval set; `owner[row]` is the eval image a view row belongs to."""

    ids: tuple[str, ...]
    owner: np.ndarray
    whitening: Whitening | None
    index: SearchIndex
    views_per_image: int

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        images: Sequence[Image.Image],
        embedder: Embedder,
        cfg: EmbedConfig,
        icfg: IndexConfig,
        background_raw: np.ndarray | None = None,
    ) -> EvalIndex:
        """Embed, whiten and index the views of `images`."""
        views = [eval_views(im, cfg.views, cfg.flip) for im in images]
        per = len(views[0]) if views else 1
        raw = embed_in_batches(embedder, [v for vs in views for v in vs], cfg.batch_size)
        whitening = _whitening(cfg, raw, background_raw)
        vecs = whitening.apply(raw) if whitening else l2n(raw)
        owner = np.repeat(np.arange(len(images)), per)
        return cls(tuple(ids), owner, whitening, build_index(vecs, icfg), per)

    def project(self, raw: np.ndarray) -> np.ndarray:
        """Query descriptors in this index's space (whitened when it is)."""
        return self.whitening.apply(raw) if self.whitening else l2n(raw)

    def match(self, queries: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """(sims, eval image indices) per query: its top-k eval images, -1 where fewer."""
        sims, rows = self.index.search(queries, k * self.views_per_image)
        owners = np.where(rows >= 0, self.owner[np.clip(rows, 0, None)], -1)
        out_s = np.full((len(queries), k), -np.inf, np.float32)
        out_i = np.full((len(queries), k), -1, np.int64)
        for q in range(len(queries)):
            _, first = np.unique(owners[q], return_index=True)
            first = np.sort(first[owners[q][first] >= 0])[:k]
            out_s[q, : len(first)] = sims[q, first]
            out_i[q, : len(first)] = owners[q, first]
        return out_s, out_i
