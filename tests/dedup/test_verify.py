"""Geometric verification (`dedup.verify`, `dedup.proof`): copies prove out, distinct images do not."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageOps

from dedup.proof import EvalProof, prove_rows
from dedup.verify import _decompose, eval_features, features, verify
from pipeline.sampleimages import render_eval_image


def _image(seed: int) -> Image.Image:
    return render_eval_image(random.Random(seed), size=256)[0]


def _copy(img: Image.Image) -> Image.Image:
    """Cropped by 10 % on the left and top, turned by 6 degrees, scaled to 0.7x."""
    w, h = img.size
    out = img.crop((w // 10, h // 10, w, h)).rotate(6, resample=Image.BICUBIC, expand=True)
    return out.resize((round(out.width * 0.7), round(out.height * 0.7)), Image.BICUBIC)


def test_an_altered_copy_is_verified_with_its_transform() -> None:
    img = _image(1)
    v = verify(eval_features(img), features(_copy(img)))
    assert v.verified and v.inliers >= 20 and not v.mirrored
    assert v.scale == pytest.approx(0.7, abs=0.05)
    assert v.rotation == pytest.approx(6.0, abs=1.5)
    assert v.stretch == pytest.approx(1.0, abs=0.05)
    assert v.tx < 0 and v.ty > -40  # the crop shifted the content left
    assert 0.7 < v.coverage < 0.9  # about 81 % of the eval image survives the crop


def test_a_mirrored_copy_is_verified_as_mirrored() -> None:
    img = _image(2)
    v = verify(eval_features(img), features(ImageOps.mirror(_copy(img))))
    assert v.verified and v.mirrored and v.scale == pytest.approx(0.7, abs=0.05)


def test_distinct_images_are_rejected_and_verdicts_repeat() -> None:
    evals = [eval_features(_image(s)) for s in range(3, 9)]
    others = [features(_image(s)) for s in range(20, 26)]
    verdicts = [verify(e, o) for e in evals for o in others]
    assert not any(v.verified for v in verdicts)
    assert all(v.reason for v in verdicts)  # few inliers, or a degenerate fit
    assert verdicts == [verify(e, o) for e in evals for o in others]


def test_decompose_reads_scale_stretch_rotation_and_folds() -> None:
    t = np.radians(10)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    scale, stretch, angle, shear = _decompose(rot @ np.diag([2.0, 3.0]))
    assert scale == pytest.approx(np.sqrt(6)) and stretch == pytest.approx(1.5)
    assert angle == pytest.approx(10.0) and shear == pytest.approx(0.0, abs=1e-9)
    assert _decompose(np.diag([-1.0, 1.0]))[0] == 0.0  # a fold is no similarity


def test_prove_rows_verifies_only_candidates() -> None:
    evals = [_image(30), _image(31)]
    proof = EvalProof(evals)
    copy = _copy(evals[0])
    rows = [
        {"key": "a", "eval_id": "e0", "similarity": 0.8},
        {"key": "a", "eval_id": "e1", "similarity": 0.6},
        {"key": "a", "eval_id": "e1", "similarity": 0.3},
    ]
    prove_rows(rows, proof, {"a": copy}, 0.5, {"e0": 0, "e1": 1})
    assert [r["verdict"] for r in rows] == ["verified", "rejected", "below_candidate"]
    assert [r["duplicate"] for r in rows] == [True, False, False]
    assert rows[2]["inliers"] is None and rows[1]["reject_reason"]
    assert sorted(proof._cache) == [0, 1]  # eval features computed on demand only
