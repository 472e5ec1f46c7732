"""The two-stage audit measured: recall per web edit, and the false-positive tail at 400M.

    python bench/dedup.py [--quick]        # runs both after the older tables
    python bench/dedup_audit.py [--quick]  # these two tables only

Recall: the even photos are the eval set (indexed as `wit dedup` indexes it, thresholds
calibrated as it calibrates them); copies of eval photos get each edit of
`dedup.transforms.WEB` and the shard encoding; a copy counts as found when its source is
among its top-5 candidates above the candidate threshold and the pair is verified (or is
unverifiable and reaches the strict threshold). Any other pair that proves out is a verified
false positive.

Tail: every stored photo, one web-edited copy of every photo and procedural pictures are
compared with every photo (all views, one matmul): all distinct pairs. The pairs above the
candidate threshold and the most similar distinct pairs are verified. The top of the
similarity distribution and of the inlier counts are fitted with a generalised Pareto tail
(`dedup.tail`) and extrapolated to an eval set against 400M training images.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from dedup import transforms  # noqa: E402
from dedup.calibrate import CalibrationConfig, calibrate  # noqa: E402
from dedup.descriptor import decode  # noqa: E402
from dedup.embed import ClassicalEmbedder, EmbedConfig  # noqa: E402
from dedup.index import IndexConfig  # noqa: E402
from dedup.matcher import EvalIndex, embed_in_batches  # noqa: E402
from dedup.overlap import CLASSICAL_FLOOR  # noqa: E402
from dedup.proof import STRICT_FLOOR, EvalProof, calibrate_proof  # noqa: E402
from dedup.tail import fit_tail  # noqa: E402
from dedup.verify import features, verify  # noqa: E402

_SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
PHOTOS = os.path.join(os.environ.get("WIT_SHARED_DATA", _SHARED), "imagenet-samples")
TRAIN = 400_000_000


def load_photos(n: int) -> list:
    """The first `n` photos, decoded (the eval side's originals)."""
    files = sorted(f for f in os.listdir(PHOTOS) if f.endswith(".JPEG"))[:n]
    return [decode(open(os.path.join(PHOTOS, f), "rb").read(), 360) for f in files]


def _stored(img):  # type: ignore[no-untyped-def]
    return decode(transforms.as_shard_jpeg(img))


def build_eval(photos: list, background: list, max_cal: int):  # type: ignore[no-untyped-def]
    """(index, proof, candidate threshold, stats) for an eval set, as `wit dedup` builds it."""
    emb = ClassicalEmbedder()
    bg = embed_in_batches(emb, background)
    ids = [str(i) for i in range(len(photos))]
    index = EvalIndex.build(ids, photos, emb, EmbedConfig(), IndexConfig(device="cpu"), bg)
    cal = CalibrationConfig(max_images=max_cal, floor=CLASSICAL_FLOOR)
    thr = calibrate(index, photos, emb, cal).threshold
    proof, stats = calibrate_proof(index, photos, emb, cal, EvalProof([]).cfg)
    proof.images = list(photos)
    return index, proof, thr, stats


def _found(proof: EvalProof, sims, ids, feats, src: int, thr: float) -> tuple[bool, int, int]:  # type: ignore[no-untyped-def]
    """(copy found, wrong pairs verified, inliers of the true pair) for a copy's top-k."""
    found, wrong, inliers = False, 0, 0
    for s, i in zip(sims, ids, strict=True):
        if i < 0 or s < thr:
            continue
        v = proof.check(int(i), feats)
        ok = v.verified or (v.reason == "unverifiable" and s >= max(thr, STRICT_FLOOR))
        found, wrong = found or (ok and i == src), wrong + int(ok and i != src)
        if i == src and v.reason in ("", "few_inliers"):
            inliers = v.inliers
    return found, wrong, inliers


def recall_table(photos: list, n_copies: int, max_cal: int) -> dict:
    """Recall and verified false positives per web edit; prints the table."""
    evals = photos[0::2]
    index, proof, thr, stats = build_eval(evals, [_stored(p) for p in photos[1::2]], max_cal)
    emb = ClassicalEmbedder()
    print(f"\nrecall: {len(evals)} eval photos, {n_copies} copies per edit")
    print(f"candidate threshold {thr:.3f} (calibrated), min inliers {stats['min_inliers']}")
    print(f"{'edit':<12} {'candidates':>10} {'recall':>7} {'verified FP':>12}")
    out, inliers = {}, []
    for name in transforms.WEB:
        src = [i % len(evals) for i in range(n_copies)]
        copies = [_stored(transforms.apply(name, evals[s], i)) for i, s in enumerate(src)]
        sims, ids = index.match(index.project(emb.embed(copies)), k=5)
        cand = float(
            np.mean(
                [
                    (r == s).any() and x[r == s][0] >= thr
                    for r, x, s in zip(ids, sims, src, strict=True)
                ]
            )
        )
        res = [
            _found(proof, sims[j], ids[j], features(copies[j]), src[j], thr)
            for j in range(len(copies))
        ]
        rec, fp = float(np.mean([r[0] for r in res])), sum(r[1] for r in res)
        out[name] = (cand, rec, fp)
        inliers += [r[2] for r in res]
        print(f"{name:<12} {cand:>10.3f} {rec:>7.3f} {fp:>12d}")
    pos = np.array(inliers)
    return {"threshold": thr, "min_inliers": stats["min_inliers"], "edits": out, "inliers": pos}


def _procedural(n: int) -> list:
    from pipeline.sampleimages import render_eval_image

    rng = random.Random(7)
    return [render_eval_image(rng)[0] for _ in range(n)]


def distinct_pairs(photos: list, n_proc: int):  # type: ignore[no-untyped-def]
    """(similarity matrix queries x photos, same-source mask, query images, index, proof)."""
    stored = [_stored(p) for p in photos]
    edits = transforms.WEB
    edited = [
        _stored(transforms.apply(edits[i % len(edits)], p, 10_000 + i))
        for i, p in enumerate(photos)
    ]
    queries = stored + edited + [_stored(p) for p in _procedural(n_proc)]
    emb = ClassicalEmbedder()
    raw = embed_in_batches(emb, queries)
    ids = [str(i) for i in range(len(photos))]
    index = EvalIndex.build(ids, photos, emb, EmbedConfig(), IndexConfig(device="cpu"), raw)
    q = index.project(raw)
    views = np.asarray(index.index.backend.reconstruct_n(0, index.index.n))
    full = q @ views.T  # the all-pairs similarity: one matmul
    sims = full.reshape(len(q), len(photos), index.views_per_image).max(axis=2)
    same = np.zeros_like(sims, dtype=bool)
    n = len(photos)
    same[np.arange(n), np.arange(n)] = same[n + np.arange(n), np.arange(n)] = True
    return sims, same, queries, photos


def _raw_config(cfg):  # type: ignore[no-untyped-def]
    """Plausibility checks off: RANSAC's raw inlier count, an upper bound of what counts."""
    big = 1e9
    return replace(cfg, min_inliers=0, min_spread=0.0, max_scale=big, max_stretch=big,
                   max_shear=big, max_rotation=big, min_agreement=-1.0)  # fmt: skip


def _verify_top(sims, same, queries, evals, order, thr: float, m: int):  # type: ignore[no-untyped-def]
    """(raw inliers, agreement per pair, false duplicates) for the distinct pairs in `order`."""
    proof = EvalProof(evals)
    raw_cfg = _raw_config(proof.cfg)
    feats: dict[int, object] = {}
    inl, agree, false_dups = [], [], 0
    strict = max(thr, STRICT_FLOOR)
    for pos in order:
        qi, ei = divmod(int(pos), sims.shape[1])
        if qi not in feats:
            feats[qi] = features(queries[qi])
        v = proof.check(ei, feats[qi])  # type: ignore[arg-type]
        raw = verify(proof._cache[ei], feats[qi], raw_cfg)  # type: ignore[arg-type]
        inl.append(raw.inliers)
        agree.append(raw.agreement)
        sim = float(sims.flat[pos])
        dup = (v.verified and v.inliers >= m) or (v.reason == "unverifiable" and sim >= strict)
        false_dups += int(dup and sim >= thr)
    return np.array(inl), np.array(agree), false_dups


def tail_table(photos: list, n_proc: int, top: int, thr: float, m: int, pos: np.ndarray) -> dict:
    """The distinct-pair tail, measured and extrapolated; prints the table."""
    t0 = time.perf_counter()
    sims, same, queries, evals = distinct_pairs(photos, n_proc)
    d = sims[~same]
    n_cand = int((d >= thr).sum())
    print(f"\ntail: {d.size:,} distinct pairs ({len(queries)} queries x {len(evals)} photos)")
    print(
        f"max similarity {d.max():.3f}; distinct pairs >= candidate threshold {thr:.3f}: {n_cand}"
    )
    order = np.argsort(-np.where(same, -np.inf, sims).ravel(), kind="stable")[: max(top, n_cand)]
    inl, agree, false_dups = _verify_top(sims, same, queries, evals, order, thr, m)
    print(f"verified the {len(order)} most similar distinct pairs: {false_dups} false duplicates")
    print(
        f"raw RANSAC inliers of those pairs: max {inl.max()}, 99th pct {np.quantile(inl, 0.99):.0f}"
    )
    s_fit = fit_tail(d, n_tail=min(2000, d.size // 100))
    jitter = np.random.default_rng(1).random(len(inl))  # counts -> continuous for the fit
    i_fit = fit_tail(inl + jitter, n_tail=max(20, len(inl) // 10))
    print(
        f"agreement of those pairs' raw fits: max {agree.max():.3f}, 99th pct {np.quantile(agree, 0.99):.3f}"
    )
    a_fit = fit_tail(agree + 1e-6 * jitter, n_tail=max(20, len(agree) // 10))
    out = _extrapolate(s_fit, i_fit, thr, m, pos)
    out["agreement"] = _agreement_bound(s_fit, a_fit, thr)
    out["joint"] = _joint_bound(s_fit, inl, agree, m, thr, jitter)
    print(
        f"false duplicates measured among distinct pairs: {false_dups}; took {time.perf_counter() - t0:.0f} s"
    )
    return {**out, "false_dups": false_dups, "pairs": int(d.size), "candidates": n_cand}


def _extrapolate(s_fit, i_fit, thr: float, m: int, pos: np.ndarray) -> dict:  # type: ignore[no-untyped-def]
    """Per-pair rates from the two fitted tails, scaled to 400M training images."""
    p_c, (lo, hi) = s_fit.rate(thr), s_fit.interval(thr)
    g, ig = s_fit.gpd, i_fit.gpd
    print(
        f"similarity tail: GPD xi {g.xi:.3f} sigma {g.sigma:.4f} over u {s_fit.u:.3f} (top {s_fit.n_tail})"
    )
    print(f"  P(distinct pair >= {thr:.3f}) = {p_c:.2e} [90% {lo:.2e}, {hi:.2e}]")
    print(
        f"  false candidates per eval image at 400M: {p_c * TRAIN:,.0f} [{lo * TRAIN:,.0f}, {hi * TRAIN:,.0f}]"
    )
    for t in (0.4, 0.45, 0.5, 0.55, 0.6):
        r, r_hi = s_fit.rate(t) * TRAIN, s_fit.interval(t)[1] * TRAIN
        print(
            f"  candidate threshold {t:.2f}: {r:,.1f} false candidates per eval image (upper {r_hi:,.1f})"
        )
    print(
        f"inlier tail: GPD xi {ig.xi:.3f} sigma {ig.sigma:.2f} over u {i_fit.u:.1f} (top {i_fit.n_tail} of {i_fit.n})"
    )
    print(
        f"{'min inliers':>11} {'copies kept':>11} {'P(inl>=m)':>10} {'90% upper':>10} {'FP/eval image':>14} {'FP/10k set':>11}"
    )
    rows = {}
    for mm in sorted({m, 15, 20, 25, 30}):
        pv = i_fit.rate(mm) if mm > i_fit.u else float("nan")
        pv_hi = i_fit.interval(mm)[1] if mm > i_fit.u else float("nan")
        per_img = hi * pv_hi * TRAIN
        rows[mm] = (float(np.mean(pos >= mm)), pv, pv_hi, per_img)
        print(
            f"{mm:>11d} {rows[mm][0]:>11.3f} {pv:>10.2e} {pv_hi:>10.2e} {per_img:>14.2e} {per_img * 1e4:>11.2e}"
        )
    return {"p_candidate": p_c, "p_candidate_ci": (lo, hi), "by_min_inliers": rows}


def _agreement_bound(s_fit, a_fit, thr: float) -> dict:  # type: ignore[no-untyped-def]
    """The same extrapolation through the agreement score (a verdict needs >= 0.75)."""
    level = EvalProof([]).cfg.min_agreement
    g = a_fit.gpd
    p_a, (_, p_a_hi) = a_fit.rate(level), a_fit.interval(level)
    hi = s_fit.interval(thr)[1]
    print(
        f"agreement tail: GPD xi {g.xi:.3f} sigma {g.sigma:.4f} over u {a_fit.u:.3f}, endpoint {a_fit.u + g.endpoint:.3f}"
    )
    print(f"  P(agreement >= {level} | top pair) = {p_a:.2e} [90% upper {p_a_hi:.2e}]")
    per_img = hi * p_a_hi * TRAIN
    print(
        f"  false verified duplicates (upper 90%): per eval image {per_img:.2e}, per 10k-image set {per_img * 1e4:.2e}"
    )
    return {"p_agreement": p_a, "p_agreement_hi": p_a_hi, "per_image": per_img}


def _joint_bound(s_fit, inl, agree, m: int, thr: float, jitter) -> dict:  # type: ignore[no-untyped-def]
    """Through the verdict's own score: min(inliers / m, agreement / 0.75) >= 1 proves a copy
    (the shape and spread checks come on top, so leaving them out only overestimates)."""
    level = EvalProof([]).cfg.min_agreement
    score = np.minimum((inl + jitter) / m, agree / level)
    j_fit = fit_tail(score, n_tail=max(20, len(score) // 10))
    p, p_hi = j_fit.rate(1.0), j_fit.interval(1.0)[1]
    hi = s_fit.interval(thr)[1]
    g = j_fit.gpd
    print(
        f"joint score min(inliers/{m}, agreement/{level}): max {score.max():.3f}; GPD xi {g.xi:.3f} sigma {g.sigma:.4f} over u {j_fit.u:.3f}, endpoint {j_fit.u + g.endpoint:.3f}"
    )
    per_img = hi * p_hi * TRAIN
    print(f"  P(score >= 1 | top pair) = {p:.2e} [90% upper {p_hi:.2e}]")
    print(
        f"  false verified duplicates (upper 90%): per eval image {per_img:.2e}, per 10k-image set {per_img * 1e4:.2e}, per 50k {per_img * 5e4:.2e}"
    )
    return {"p_joint": p, "p_joint_hi": p_hi, "per_image": per_img}


def main() -> None:
    """Both tables (quick: 200 photos)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--copies", type=int, default=0, help="copies per edit (default 100)")
    ap.add_argument("--photos", type=int, default=0, help="photos (default 1000, quick 200)")
    ap.add_argument("--top", type=int, default=0, help="most similar distinct pairs verified")
    args = ap.parse_args()
    run(args.quick, args.copies, args.photos, args.top)


def run(quick: bool = False, copies: int = 0, n_photos: int = 0, top: int = 0) -> None:
    """Recall table then tail table on the shared photos."""
    if not os.path.isdir(PHOTOS):
        print(f"skip audit: {PHOTOS} absent")
        return
    photos = load_photos(n_photos or (200 if quick else 1000))
    r = recall_table(photos, copies or (20 if quick else 100), 60 if quick else 200)
    top = top or (300 if quick else 3000)
    tail_table(photos, 40 if quick else 200, top, r["threshold"], r["min_inliers"], r["inliers"])


if __name__ == "__main__":
    main()
