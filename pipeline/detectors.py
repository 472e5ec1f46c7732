"""Detector plug-ins of the safety checks: `detect(rgb PIL image) -> Detections`.

- `NudeNetDetector`: NudeNet 3.4's YOLOv8n detector (`320n.onnx`, shipped inside the `nudenet`
  wheel; run here with onnxruntime, nothing downloaded). Of its 18 classes, five are exposed
  nudity (female/male genitalia, female breast, buttocks, anus exposed) and two are faces
  (`FACE_FEMALE`, `FACE_MALE`). The unsafe score is the highest confidence of any box of an
  exposed-nudity class (0 when there is none): "the detector is this sure it sees nudity",
  in [0, 1] like LAION's `punsafe`. Face boxes are the face-class boxes above the face
  threshold after non-maximum suppression. One pass gives both.
- `OnnxClassifier`: a user's own classifier (`--unsafe_model FILE.onnx`). Input: one RGB image,
  NCHW float32 in [0, 1], resized to the model's input size (224 when dynamic). Output: one
  value (a probability or a logit, squashed by a sigmoid when outside [0, 1]) or a row of class
  scores whose last class is "unsafe" (softmaxed when not already probabilities).
"""

from __future__ import annotations

import os
import threading
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Detections", "NudeNetDetector", "OnnxClassifier", "make_detectors", "nudenet_model"]

_UNSAFE_CLASSES = (
    2,
    3,
    4,
    6,
    14,
)  # buttocks, female breast, female genitalia, anus, male genitalia
_FACE_CLASSES = (1, 12)  # FACE_FEMALE, FACE_MALE
_SIDE = 320


class Detections(NamedTuple):
    """The unsafe score and face boxes (x, y, w, h, in the input image's pixels) of one image."""

    punsafe: float
    faces: tuple[tuple[int, int, int, int], ...] = ()


def nudenet_model() -> str:
    """The path of the ONNX model inside the installed `nudenet` wheel."""
    import importlib.util

    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the unsafe/face checks need `pip install nudenet` (or --unsafe_policy off --detect_faces false)")  # fmt: skip
    return os.path.join(list(spec.submodule_search_locations)[0], "320n.onnx")


def _session(path: str) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # the download threads give the parallelism; stay deterministic
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def _letterbox(rgb: Any, side: int) -> tuple[np.ndarray, float]:
    """The image padded to a square at the top left, resized to `side`: (NCHW blob, scale)."""
    from PIL import Image

    big = max(rgb.width, rgb.height)
    square = Image.new("RGB", (big, big))
    square.paste(rgb.convert("RGB"), (0, 0))
    small = square.resize((side, side), Image.Resampling.BILINEAR)
    blob = np.asarray(small, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(blob), big / side


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression over (x1, y1, x2, y2) boxes; indices kept, best first."""
    order, keep = list(np.argsort(-scores, kind="stable")), []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order:
        i = order.pop(0)
        keep.append(i)
        rest = np.array(order, dtype=int)
        if not len(rest):
            break
        xx = np.maximum(0, np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]))  # fmt: skip
        yy = np.maximum(0, np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]))  # fmt: skip
        overlap = xx * yy / (areas[i] + areas[rest] - xx * yy + 1e-9)
        order = [int(j) for j, o in zip(rest, overlap, strict=True) if o <= iou]
    return keep


class NudeNetDetector:
    """NudeNet's bundled detector: unsafe score and face boxes from one ONNX pass."""

    def __init__(self, model: str = "", face_threshold: float = 0.4) -> None:
        self.session = _session(model or nudenet_model())
        self.face_threshold = face_threshold

    def detect(self, rgb: Any) -> Detections:
        """Score one RGB image (any size; letterboxed to 320 x 320)."""
        blob, scale = _letterbox(rgb, _SIDE)
        rows = self.session.run(None, {self.session.get_inputs()[0].name: blob})[0][0].T
        scores = rows[:, 4:]
        punsafe = float(scores[:, _UNSAFE_CLASSES].max(initial=0.0))
        face = scores[:, _FACE_CLASSES].max(axis=1)
        picked = np.nonzero(face >= self.face_threshold)[0]
        return Detections(min(1.0, max(0.0, punsafe)), self._faces(rows[picked], face[picked], scale, rgb.size))  # fmt: skip

    @staticmethod
    def _faces(rows: np.ndarray, conf: np.ndarray, scale: float, size: tuple[int, int]) -> tuple:
        if not len(rows):
            return ()
        cx, cy, w, h = (rows[:, k] * scale for k in range(4))
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        boxes = np.clip(boxes, 0, [size[0], size[1], size[0], size[1]])
        out = []
        for i in sorted(_nms(boxes, conf, 0.45)):
            x1, y1, x2, y2 = (int(round(float(v))) for v in boxes[i])
            if x2 > x1 and y2 > y1:
                out.append((x1, y1, x2 - x1, y2 - y1))
        return tuple(sorted(out))


class OnnxClassifier:
    """A user's ONNX unsafe-content classifier (see the module docstring for its contract)."""

    def __init__(self, model: str) -> None:
        self.session = _session(model)
        shape = self.session.get_inputs()[0].shape
        self.size = tuple(d if isinstance(d, int) and d > 0 else 224 for d in shape[2:4])

    def detect(self, rgb: Any) -> Detections:
        """The last class's probability of one RGB image."""
        from PIL import Image

        small = rgb.convert("RGB").resize(self.size[::-1], Image.Resampling.BILINEAR)
        blob = np.asarray(small, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
        out = np.asarray(self.session.run(None, {self.session.get_inputs()[0].name: blob})[0])
        row = out.reshape(-1).astype(np.float64)
        if row.size == 1:
            value = row[0] if 0.0 <= row[0] <= 1.0 else 1.0 / (1.0 + np.exp(-row[0]))
        else:
            probs = (
                row if np.all(row >= 0) and abs(row.sum() - 1) < 1e-3 else np.exp(row - row.max())
            )
            value = (probs / probs.sum())[-1]
        return Detections(float(min(1.0, max(0.0, value))))


_LOCK = threading.Lock()


def make_detectors(cfg: Any) -> tuple[Any, Any]:
    """(unsafe scorer or None, face detector or None) for a `SafetyConfig`; shared when both
    are NudeNet (one pass per image)."""
    with _LOCK:
        wants_faces = cfg.detect_faces or cfg.blur_faces
        nudenet = None
        if wants_faces or (cfg.unsafe_policy != "off" and not cfg.unsafe_model):
            nudenet = NudeNetDetector(face_threshold=cfg.face_threshold)
        unsafe = None
        if cfg.unsafe_policy != "off":
            unsafe = OnnxClassifier(cfg.unsafe_model) if cfg.unsafe_model else nudenet
        return unsafe, (nudenet if wants_faces else None)
