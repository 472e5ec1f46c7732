"""Cost and face recall of the safety checks, side by side with the image stage's own work.

    python bench/safety.py cost [--images 60] [--runs 3]
    python bench/safety.py faces [--skimage_data DIR] [--imagenet DIR]
    python bench/safety.py gpu [--images 256]

`cost`: CPU ms per image (one thread, median of runs) of the image stage (decode + validate +
resize + encode), then of each check on the same images: MD5+SHA-1 of the bytes, PDQ of the
decoded original (its 8 rotations and mirrors, as the stage matches them), NudeNet (unsafe score and faces in one pass), a face blur, all in one run.
`faces`: recall of the face boxes at several thresholds on real faces found offline:
scikit-image's `lfw_subset` (100 LFW faces of 25 x 25, upscaled into 256 x 256 frames; its 100
non-faces give the false-positive rate) and `astronaut`; with `--imagenet`, how many of the
ImageNet samples (mostly animals and objects) get a "face". `skimage_data` is scikit-image's
`skimage/data` folder (an installed package, or unzipped from its wheel).
`gpu`: the detector's images/s with onnxruntime's CUDA provider (needs onnxruntime-gpu).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import io
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from PIL import Image  # noqa: E402

from pipeline.detectors import NudeNetDetector  # noqa: E402
from pipeline.hashlist import _pdq_dihedral  # noqa: E402
from pipeline.imaging import ImageConfig, _decode, _open_checked, process_image  # noqa: E402
from pipeline.safety import blur_boxes  # noqa: E402
from pipeline.sampleimages import encode, render_picture  # noqa: E402


def _bodies(n: int) -> list[bytes]:
    """Sample-web-like JPEGs: 300-1200 px sides, as the image stage sees them."""
    rng = random.Random(0)
    out = []
    for _ in range(n):
        w, h = rng.randint(300, 1200), rng.randint(300, 900)
        out.append(encode(render_picture(rng, w, h)[0], "JPEG", quality=85))
    return out


def _ms_per_image(fn, items: list, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        for item in items:
            fn(item)
        times.append((time.process_time() - start) / len(items) * 1000)
    return statistics.median(times)


def cost(n: int, runs: int) -> None:
    """Print CPU ms/image of the image stage and of each safety check, side by side."""
    bodies, cfg = _bodies(n), ImageConfig()
    # what the stage hands the checks: its own decode (JPEG drafted down towards 256 px)
    decoded = [_decode(_open_checked(b, cfg), cfg) for b in bodies]
    full = [Image.open(io.BytesIO(b)).convert("RGB") for b in bodies[:10]]
    stored = [d.resize((256, max(1, 256 * d.height // d.width))) for d in decoded]
    detector = NudeNetDetector()
    box = ((60, 40, 80, 80),)
    rows = [
        (
            "image stage (decode+resize+encode)",
            _ms_per_image(lambda b: process_image(b, cfg), bodies, runs),
        ),  # fmt: skip
        (
            "md5 + sha1 of the bytes",
            _ms_per_image(
                lambda b: (hashlib.md5(b).digest(), hashlib.sha1(b).digest()), bodies, runs
            ),
        ),  # fmt: skip
        (
            "PDQ x 8 (dihedral) of the decoded original",
            _ms_per_image(_pdq_dihedral, decoded, runs),
        ),  # fmt: skip
        ("PDQ x 8 of the full-size original", _ms_per_image(_pdq_dihedral, full, runs)),
        ("NudeNet 320n (unsafe + faces)", _ms_per_image(detector.detect, stored, runs)),
        ("blur one face box", _ms_per_image(lambda s: blur_boxes(s, box), stored, runs)),
    ]
    base = rows[0][1]
    print(f"{'step (CPU, one thread)':<44}{'ms/image':>10}{'x image stage':>15}")
    for name, ms in rows:
        print(f"{name:<44}{ms:>10.2f}{ms / base:>15.2f}")


def _framed(face: Image.Image) -> Image.Image:
    frame = Image.new("RGB", (256, 256), (128, 128, 128))
    frame.paste(face.convert("RGB").resize((120, 120), Image.Resampling.BICUBIC), (68, 50))
    return frame


def _best_face(detector: NudeNetDetector, img: Image.Image) -> float:
    """The best face-class confidence of any anchor box in the image."""
    from pipeline.detectors import _FACE_CLASSES, _letterbox

    blob, _ = _letterbox(img, 320)
    rows = detector.session.run(None, {detector.session.get_inputs()[0].name: blob})[0][0].T
    return float(rows[:, 4:][:, _FACE_CLASSES].max())


def faces(skimage_data: str, imagenet: str) -> None:
    """Print face recall and false positives at several thresholds."""
    import numpy as np

    detector = NudeNetDetector()
    lfw = np.load(os.path.join(skimage_data, "lfw_subset.npy"))
    to_img = [Image.fromarray((a * 255 if a.max() <= 1 else a).astype("uint8")) for a in lfw]
    sets = {"lfw faces (100)": to_img[:100], "lfw non-faces (100)": to_img[100:]}
    sets = {k: [_framed(i) for i in v] for k, v in sets.items()}
    sets["astronaut (1 face)"] = [Image.open(os.path.join(skimage_data, "astronaut.png")).convert("RGB")]  # fmt: skip
    if imagenet:
        paths = sorted(glob.glob(os.path.join(imagenet, "*.JPEG")))
        sets[f"imagenet samples ({len(paths)})"] = [_small(p) for p in paths]
    thresholds = (0.2, 0.3, 0.4, 0.5, 0.6)
    print(f"{'set':<28}" + "".join(f"{f'>= {t}':>9}" for t in thresholds))
    for name, images in sets.items():
        scores = [_best_face(detector, img) for img in images]
        cells = "".join(f"{sum(s >= t for s in scores) / len(scores):>9.2f}" for t in thresholds)
        print(f"{name:<28}{cells}")


def _small(path: str) -> Image.Image:
    img = Image.open(path).convert("RGB")
    img.thumbnail((512, 512))
    return img


def gpu(n: int) -> None:
    """Print the detector's images/s on the GPU (batch of 1 per call, as the stage runs it)."""
    import numpy as np
    import onnxruntime as ort

    from pipeline.detectors import nudenet_model

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        print("no CUDAExecutionProvider (install onnxruntime-gpu on a GPU machine)")
        return
    session = ort.InferenceSession(nudenet_model(), providers=["CUDAExecutionProvider"])
    for batch in (1, 32):
        blob = np.random.rand(batch, 3, 320, 320).astype("float32")
        session.run(None, {"images": blob})
        start = time.perf_counter()
        for _ in range(max(1, n // batch)):
            session.run(None, {"images": blob})
        rate = max(1, n // batch) * batch / (time.perf_counter() - start)
        print(f"NudeNet 320n on GPU, batch {batch}: {rate:,.0f} images/s")


def main() -> None:
    """Parse the subcommand and run it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("cost", "faces", "gpu"))
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skimage_data", default="")
    ap.add_argument("--imagenet", default="")
    args = ap.parse_args()
    if args.what == "cost":
        cost(args.images, args.runs)
    elif args.what == "gpu":
        gpu(args.images)
    else:
        faces(args.skimage_data or _skimage_data(), args.imagenet)


def _skimage_data() -> str:
    import skimage

    return os.path.join(os.path.dirname(skimage.__file__), "data")


if __name__ == "__main__":
    main()
