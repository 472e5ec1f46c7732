"""Proof of a copy: local features matched between two images and a RANSAC-fitted geometry.

The descriptor search only proposes candidates; a candidate pair is a duplicate when SIFT
keypoints (OpenCV) of the eval image and the training image agree on one affine transform:
enough RANSAC inliers, a plausible transform (no fold, bounded scale, stretch, shear and
rotation), inliers spread over the image (not one logo or caption line), and the two
images, aligned by the fit, agreeing cell by cell (not only a shared background). Mirrored copies
are matched against the mirrored eval image. Everything is seeded, so verdicts are
reproducible.

    ev = features(eval_image)               # cache these per eval image
    v = verify(ev, features(train_image), VerifyConfig())
    v.verified, v.inliers, v.scale, v.rotation, v.mirrored
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

__all__ = ["VerifyConfig", "Features", "Verification", "features", "verify", "eval_features"]

cv2.setNumThreads(1)  # deterministic, and workers parallelise across processes instead


@dataclass(frozen=True)
class VerifyConfig:
    """Feature extraction, matching and acceptance settings."""

    size: int = 256  # images are resized to this shorter side before keypoints
    max_features: int = 600
    contrast: float = 0.02  # SIFT contrast threshold (OpenCV's default 0.04 misses flat images)
    min_keypoints: int = 40  # fewer on either side: geometry cannot decide ("unverifiable")
    ratio: float = 0.8  # Lowe's ratio test
    reproj: float = 6.0  # RANSAC inlier distance in working pixels
    min_inliers: int = 12
    min_spread: float = 0.05  # inliers' convex hull / working image area, both sides
    max_scale: float = 8.0
    max_stretch: float = 2.0
    max_shear: float = 0.35
    max_rotation: float = 30.0
    min_agreement: float = 0.75  # share of aligned cells that correlate (see _agreement)


@dataclass(frozen=True)
class Features:
    """Keypoints (working pixels), SIFT descriptors, the working scale and original size."""

    points: np.ndarray
    descriptors: np.ndarray
    scale: float
    size: tuple[int, int]
    gray: np.ndarray  # the working image, for the photometric check


@dataclass(frozen=True)
class Verification:
    """The verdict and fitted transform (eval pixels -> train pixels) of one pair.

    `scale`: train size / eval size; `stretch`: vertical / horizontal scale; `rotation`:
    degrees counter-clockwise as displayed; `tx`, `ty`: where the eval image's top-left corner
    lands in the training image (pixels); `coverage`: share of the eval image inside it.
    """

    verified: bool
    inliers: int
    scale: float = 0.0
    stretch: float = 0.0
    rotation: float = 0.0
    tx: float = 0.0
    ty: float = 0.0
    coverage: float = 0.0
    mirrored: bool = False
    reason: str = ""
    agreement: float = 0.0


_SIFT: dict[tuple[int, float], cv2.SIFT] = {}


def _sift(n: int, contrast: float):  # type: ignore[no-untyped-def]
    if (n, contrast) not in _SIFT:
        _SIFT[n, contrast] = cv2.SIFT_create(nfeatures=n, contrastThreshold=contrast)
    return _SIFT[n, contrast]


def features(img: Image.Image, cfg: VerifyConfig = VerifyConfig()) -> Features:
    """SIFT keypoints and descriptors of `img` at a shorter side of `cfg.size`."""
    w, h = img.size
    s = cfg.size / max(1, min(w, h))
    gray = img.convert("L").resize((max(1, round(w * s)), max(1, round(h * s))), Image.BICUBIC)
    arr = np.asarray(gray)
    kps, desc = _sift(cfg.max_features, cfg.contrast).detectAndCompute(arr, None)
    pts = np.array([k.pt for k in kps], np.float32).reshape(-1, 2)
    if desc is None:
        desc = np.zeros((0, 128), np.float32)
    return Features(pts, desc.astype(np.float32), s, (w, h), arr)


def eval_features(img: Image.Image, cfg: VerifyConfig = VerifyConfig()) -> tuple[Features, ...]:
    """The eval side: features of the image and of its mirror image."""
    return features(img, cfg), features(ImageOps.mirror(img), cfg)


def _matches(a: Features, b: Features, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Point pairs that pass the ratio test, matched from a to b."""
    if len(a.descriptors) < 2 or len(b.descriptors) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(a.descriptors, b.descriptors, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < ratio * m[1].distance]
    src = np.array([a.points[m.queryIdx] for m in good], np.float32).reshape(-1, 2)
    dst = np.array([b.points[m.trainIdx] for m in good], np.float32).reshape(-1, 2)
    return src, dst


def _spread(points: np.ndarray, f: Features) -> float:
    """Area of the points' convex hull as a share of the working image."""
    if len(points) < 3:
        return 0.0
    area = cv2.contourArea(cv2.convexHull(points.astype(np.float32)))
    w, h = f.size
    return float(area / max(1.0, w * f.scale * h * f.scale))


def _decompose(m: np.ndarray) -> tuple[float, float, float, float]:
    """(scale, stretch, rotation in degrees, shear) of a 2x2 linear map; scale 0 if folded."""
    a, b, c, d = float(m[0, 0]), float(m[0, 1]), float(m[1, 0]), float(m[1, 1])
    det = a * d - b * c
    sx = float(np.hypot(a, c))
    if det <= 0 or sx == 0:
        return 0.0, 0.0, 0.0, 0.0
    sy = det / sx
    return float(np.sqrt(det)), sy / sx, float(np.degrees(np.arctan2(c, a))), (a * b + c * d) / det


def _coverage(m: np.ndarray, ev: Features, tr: Features) -> float:
    """Share of the eval image that lands inside the training image under `m`."""
    w, h = ev.size
    gx, gy = np.meshgrid(np.linspace(0, w, 16), np.linspace(0, h, 16))
    p = np.stack([gx.ravel(), gy.ravel()], 1) * ev.scale
    q = (p @ m[:, :2].T + m[:, 2]) / tr.scale
    tw, th = tr.size
    inside = (q[:, 0] >= -1) & (q[:, 0] <= tw + 1) & (q[:, 1] >= -1) & (q[:, 1] <= th + 1)
    return float(inside.mean())


def _agreement(m: np.ndarray, ev: Features, tr: Features, cell: int = 32) -> float:
    """Share of the overlap's textured 32-px cells where the eval image and the training image
    warped onto it correlate (> 0.6, blurred): a copy agrees almost everywhere, two pictures
    that share only a background or a logo do not."""
    h, w = ev.gray.shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(tr.gray, m, (w, h), flags=flags).astype(np.float32)
    mask = cv2.warpAffine(np.full_like(tr.gray, 255), m, (w, h), flags=flags) == 255
    a = cv2.GaussianBlur(ev.gray.astype(np.float32), (0, 0), 1.5)
    b = cv2.GaussianBlur(warped, (0, 0), 1.5)
    hh, ww = h // cell * cell, w // cell * cell

    def tiles(x: np.ndarray) -> np.ndarray:
        return (
            x[:hh, :ww]
            .reshape(hh // cell, cell, ww // cell, cell)
            .swapaxes(1, 2)
            .reshape(-1, cell * cell)
        )

    ta, tb, tm = tiles(a), tiles(b), tiles(mask).all(axis=1)
    ta, tb = ta - ta.mean(axis=1, keepdims=True), tb - tb.mean(axis=1, keepdims=True)
    sa, sb = np.sqrt((ta * ta).sum(1)), np.sqrt((tb * tb).sum(1))
    use = tm & (sa > 2.0 * cell)  # inside the training image and textured (std > 2 grey levels)
    if use.sum() < 4:
        return 0.0
    r = (ta * tb).sum(1)[use] / (sa[use] * sb[use] + 1e-6)
    return float((r > 0.6).mean())


def _fit(ev: Features, tr: Features, cfg: VerifyConfig, mirrored: bool) -> Verification:
    src, dst = _matches(ev, tr, cfg.ratio)
    if len(src) < max(3, cfg.min_inliers):
        return Verification(False, 0, mirrored=mirrored, reason="few_matches")
    cv2.setRNGSeed(0)
    m, mask = cv2.estimateAffine2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=cfg.reproj, maxIters=2000
    )
    if m is None or not np.isfinite(m).all():
        return Verification(False, 0, mirrored=mirrored, reason="no_model")
    keep = mask.ravel().astype(bool)
    n = int(keep.sum())
    scale, stretch, rot, shear = _decompose(m)
    rot = -rot  # y points down: report turns as seen, counter-clockwise positive
    w = ev.size[0]
    tx, ty = float(m[0, 2] / tr.scale), float(m[1, 2] / tr.scale)
    rel = scale * ev.scale / tr.scale if scale else 0.0  # eval px -> train px
    if mirrored:  # report the transform of the unmirrored eval image
        tx, rot = tx + float(m[0, 0]) * w * ev.scale / tr.scale, -rot
    spread = min(_spread(src[keep], ev), _spread(dst[keep], tr))
    reason = _reject_reason(n, rel, stretch, shear, rot, spread, cfg)
    agree = _agreement(m, ev, tr) if scale else 0.0
    if not reason and agree < cfg.min_agreement:
        reason = "appearance_differs"
    return Verification(
        not reason, n, rel, stretch, rot, tx, ty, _coverage(m, ev, tr), mirrored, reason, agree
    )


def _reject_reason(n, rel, stretch, shear, rot, spread, cfg: VerifyConfig) -> str:  # type: ignore[no-untyped-def]
    if n < cfg.min_inliers:
        return "few_inliers"
    if not rel or not 1 / cfg.max_scale <= rel <= cfg.max_scale:
        return "implausible_scale"
    if not 1 / cfg.max_stretch <= stretch <= cfg.max_stretch or abs(shear) > cfg.max_shear:
        return "implausible_shape"
    if abs(rot) > cfg.max_rotation:
        return "implausible_rotation"
    if spread < cfg.min_spread:
        return "inliers_clustered"
    return ""


def verify(
    ev: tuple[Features, ...], tr: Features, cfg: VerifyConfig = VerifyConfig()
) -> Verification:
    """Verify a training image against an eval image (and its mirror); the better fit wins.

    Either side with fewer than `cfg.min_keypoints` keypoints (flat, textureless pictures) is
    "unverifiable": geometry can neither prove nor refute the pair.
    """
    if min(len(ev[0].points), len(tr.points)) < cfg.min_keypoints:
        return Verification(False, 0, reason="unverifiable")
    fits = [_fit(f, tr, cfg, mirrored=bool(i)) for i, f in enumerate(ev)]
    return max(fits, key=lambda v: (v.verified, v.inliers))
