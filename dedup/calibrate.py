"""Threshold calibration: pick a per-eval-set threshold for a target precision.

Synthetic copies of the eval set's own images (every alteration of `dedup.transforms`,
passed through the shard encoding) are searched against its index. A copy's similarity to
its source is a positive; its best similarity to any other eval image is a negative. The
threshold is the lowest one whose precision reaches the target (and never below a floor).

    result = calibrate(eval_index, images, embedder, CalibrationConfig(precision=0.99))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from dedup import transforms
from dedup.descriptor import decode
from dedup.embed import Embedder
from dedup.matcher import EvalIndex, embed_in_batches

__all__ = ["CalibrationConfig", "Calibration", "calibrate", "pick_threshold", "synthetic_copies"]


@dataclass(frozen=True)
class CalibrationConfig:
    """Target precision, how many eval images to copy, which alterations, the floor."""

    precision: float = 0.99
    max_images: int = 300
    names: tuple[str, ...] = transforms.MILD + transforms.HARD
    floor: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class Calibration:
    """The chosen threshold and the evidence behind it."""

    threshold: float
    precision: float
    recall: float
    positives: int
    negatives: int
    recall_by_transform: dict[str, float] = field(default_factory=dict)


def synthetic_copies(
    images: Sequence[Image.Image], cfg: CalibrationConfig
) -> list[tuple[int, str, Image.Image]]:
    """(source index, transform, copy) for up to `max_images` images, alterations in turn."""
    out = []
    for i, img in enumerate(images[: cfg.max_images]):
        name = cfg.names[(i + cfg.seed) % len(cfg.names)]
        copy = transforms.apply(name, img, seed=cfg.seed * 100003 + i)
        out.append((i, name, decode(transforms.as_shard_jpeg(copy))))
    return out


def pick_threshold(pos: np.ndarray, neg: np.ndarray, precision: float, floor: float = 0.0) -> float:
    """The lowest threshold at which positives outnumber negatives to reach `precision`."""
    candidates = np.unique(np.concatenate([pos, neg, [floor]]))
    for t in candidates[candidates >= floor]:
        tp = int((pos >= t).sum())
        fp = int((neg >= t).sum())
        if tp and tp / (tp + fp) >= precision:
            return float(t)
    return float(max(candidates.max(), floor)) + 1e-6


def calibrate(
    index: EvalIndex, images: Sequence[Image.Image], embedder: Embedder, cfg: CalibrationConfig
) -> Calibration:
    """Calibrate the threshold of one eval set on synthetic copies of its images."""
    copies = synthetic_copies(images, cfg)
    src = np.array([c[0] for c in copies])
    names = [c[1] for c in copies]
    q = index.project(embed_in_batches(embedder, [c[2] for c in copies]))
    sims, ids = index.match(q, k=2)
    hit = ids == src[:, None]
    pos = np.where(hit.any(axis=1), np.where(hit, sims, -np.inf).max(axis=1), -1.0)
    neg = np.where(~hit & (ids >= 0), sims, -np.inf).max(axis=1)
    thr = pick_threshold(pos, neg[np.isfinite(neg)], cfg.precision, cfg.floor)
    tp, fp = int((pos >= thr).sum()), int((neg >= thr).sum())
    by_name = {
        n: float(np.mean([p >= thr for p, m in zip(pos, names, strict=True) if m == n]))
        for n in sorted(set(names))
    }
    return Calibration(
        threshold=round(thr, 6),
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / len(pos) if len(pos) else 0.0,
        positives=len(pos),
        negatives=int(np.isfinite(neg).sum()),
        recall_by_transform=by_name,
    )
