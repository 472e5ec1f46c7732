"""Threshold calibration from synthetic copies."""

from __future__ import annotations

import numpy as np

from dedup.calibrate import CalibrationConfig, calibrate, pick_threshold
from dedup.embed import ClassicalEmbedder, EmbedConfig
from dedup.index import IndexConfig
from dedup.matcher import EvalIndex
from tests.dedup.conftest import scene


def test_pick_threshold_reaches_precision() -> None:
    pos = np.array([0.9, 0.8, 0.7, 0.6, 0.3])
    neg = np.array([0.1, 0.2, 0.65, 0.35])
    assert pick_threshold(pos, neg, 0.99) == 0.7
    assert pick_threshold(pos, neg, 0.75) == 0.6  # 4 of 5 above, 1 negative
    assert pick_threshold(pos, neg, 0.99, floor=0.85) == 0.85


def test_pick_threshold_unreachable_is_above_everything() -> None:
    assert pick_threshold(np.array([0.2]), np.array([0.9]), 0.99) > 0.9


def test_calibrate_on_procedural_eval_set() -> None:
    images = [scene(300 + i) for i in range(24)]
    emb = ClassicalEmbedder()
    index = EvalIndex.build([str(i) for i in range(24)], images, emb, EmbedConfig(), IndexConfig())
    cal = calibrate(index, images, emb, CalibrationConfig(precision=0.99))
    assert cal.precision >= 0.99
    assert cal.recall >= 0.8
    assert cal.positives == 24 and set(cal.recall_by_transform) <= set(CalibrationConfig().names)
