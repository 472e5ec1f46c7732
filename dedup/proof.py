"""The second stage of the audit: every descriptor candidate is verified by geometry.

`EvalProof` holds an eval set's images (as bytes) and caches their features on first use, so
only eval images that have candidates are ever described. `prove_rows` fills the verdict and
fitted transform of the rows that a training batch produced; `calibrate_inliers` picks an
eval set's minimum inlier count from its synthetic copies (positives) and the best wrong eval
image of each copy (negatives).

    proof = EvalProof(images, VerifyConfig())
    prove_rows(rows, proof, train_images, threshold)      # rows of dedup.overlap
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pyarrow as pa
from PIL import Image

from dedup.calibrate import CalibrationConfig, synthetic_copies
from dedup.embed import Embedder
from dedup.matcher import EvalIndex, embed_in_batches
from dedup.verify import Features, Verification, VerifyConfig, eval_features, features, verify

__all__ = [
    "EvalProof",
    "prove_rows",
    "calibrate_inliers",
    "VERDICTS",
    "INLIER_FLOOR",
    "STRICT_FLOOR",
    "PROOF_FIELDS",
    "proof_schema",
    "calibrate_proof",
]

VERDICTS = ("verified", "rejected", "unverifiable", "below_candidate")
# Pairs that geometry cannot decide (too few keypoints) fall back to the descriptor alone,
# at a threshold never below this strict floor (the classical descriptor's old single stage).
STRICT_FLOOR = 0.5
INLIER_FLOOR = 12
PROOF_FIELDS = ("scale", "stretch", "rotation", "tx", "ty", "coverage", "agreement", "mirrored")


class EvalProof:
    """An eval set's images with lazily computed, cached local features."""

    def __init__(self, images: Sequence[Image.Image], cfg: VerifyConfig = VerifyConfig()) -> None:
        self.images = list(images)
        self.cfg = cfg
        self._cache: dict[int, tuple[Features, ...]] = {}

    def check(self, eval_idx: int, train: Features) -> Verification:
        """Verify training features against eval image `eval_idx`."""
        if eval_idx not in self._cache:
            self._cache[eval_idx] = eval_features(self.images[eval_idx], self.cfg)
        return verify(self._cache[eval_idx], train, self.cfg)


def _verdict(v: Verification) -> str:
    if v.reason == "unverifiable":
        return "unverifiable"
    return "verified" if v.verified else "rejected"


def _proof_columns(v: Verification | None, verdict: str) -> dict:
    if v is None or verdict == "unverifiable":
        return {"verdict": verdict, "inliers": None, "reject_reason": None} | dict.fromkeys(
            PROOF_FIELDS
        )
    cols = {f: round(float(getattr(v, f)), 4) for f in PROOF_FIELDS if f != "mirrored"}
    return {
        "verdict": verdict,
        "inliers": v.inliers,
        "reject_reason": v.reason or None,
        "mirrored": v.mirrored,
        **cols,
    }


def prove_rows(
    rows: list[dict],
    proof: EvalProof,
    images: dict[str, Image.Image],
    threshold: float,
    eval_pos: dict[str, int],
    strict: float = STRICT_FLOOR,
) -> None:
    """Verify the rows at or above the candidate threshold, in place; the others are marked.

    A verified pair is a duplicate; an unverifiable one is when its similarity reaches `strict`.
    """
    train_feats: dict[str, Features] = {}
    for r in rows:
        if r["similarity"] < threshold:
            r.update(_proof_columns(None, "below_candidate"), duplicate=False)
            r["strict_threshold"] = strict
            continue
        if r["key"] not in train_feats:
            train_feats[r["key"]] = features(images[r["key"]], proof.cfg)
        v = proof.check(eval_pos[r["eval_id"]], train_feats[r["key"]])
        verdict = _verdict(v)
        dup = v.verified or (verdict == "unverifiable" and r["similarity"] >= strict)
        r.update(_proof_columns(v, verdict), duplicate=dup, strict_threshold=strict)


def proof_schema() -> list[tuple[str, pa.DataType]]:
    """The overlap.parquet columns this stage adds."""
    return [
        ("min_inliers", pa.int32()),
        ("strict_threshold", pa.float32()),
        ("verdict", pa.string()),
        ("inliers", pa.int32()),
        ("reject_reason", pa.string()),
        ("scale", pa.float32()),
        ("stretch", pa.float32()),
        ("rotation", pa.float32()),
        ("tx", pa.float32()),
        ("ty", pa.float32()),
        ("coverage", pa.float32()),
        ("agreement", pa.float32()),
        ("mirrored", pa.bool_()),
    ]


def calibrate_proof(
    index: EvalIndex,
    images: Sequence[Image.Image],
    embedder: Embedder,
    cal: CalibrationConfig,
    vcfg: VerifyConfig,
    given: int | None = None,
) -> tuple[EvalProof, dict]:
    """An eval set's `EvalProof` with its minimum inlier count (given, or calibrated)."""
    proof = EvalProof(images, vcfg)
    if given is not None:
        proof.cfg = replace(vcfg, min_inliers=given)
        return proof, {"min_inliers": given, "min_inliers_source": "given"}
    copies = synthetic_copies(images, cal)
    q = index.project(embed_in_batches(embedder, [c[2] for c in copies]))
    _, ids = index.match(q, k=2)
    wrong = [
        int(next((i for i in row if i >= 0 and i != c[0]), -1))
        for row, c in zip(ids, copies, strict=True)
    ]
    need, recall, worst = calibrate_inliers(
        proof, [(c[0], c[2]) for c in copies], wrong, vcfg.min_inliers
    )
    proof.cfg = replace(vcfg, min_inliers=need)
    stats = {
        "min_inliers": need,
        "min_inliers_source": "calibrated",
        "verification_recall": round(recall, 4),
        "wrong_pair_max_inliers": worst,
    }
    return proof, stats


def calibrate_inliers(
    proof: EvalProof,
    copies: Sequence[tuple[int, Image.Image]],
    wrong: Sequence[int],
    floor: int = INLIER_FLOOR,
) -> tuple[int, float, int]:
    """(min inliers, recall of the copies, most inliers of a wrong pair) for one eval set.

    `copies` are (source index, copy image); `wrong[i]` is the most similar other eval image
    of copy i (-1 for none). The minimum is one above the most inliers any wrong pair reached
    with an otherwise plausible transform, and never below `floor`.
    """
    loose = replace(proof.cfg, min_inliers=0)
    pos, worst = [], 0
    for (src, img), other in zip(copies, wrong, strict=True):
        f = features(img, proof.cfg)
        pos.append(proof.check(src, f).inliers)
        if other >= 0:
            proof._cache.setdefault(other, eval_features(proof.images[other], proof.cfg))
            v = verify(proof._cache[other], f, loose)
            worst = max(worst, v.inliers if v.verified else 0)
    need = max(floor, worst + 1)
    recall = float(np.mean([p >= need for p in pos])) if pos else 0.0
    return need, recall, worst
