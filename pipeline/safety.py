"""Safety checks inside the image stage: hash lists, unsafe-content scores, faces and blurring.

`SafetyConfig` is the picklable policy; `SafetyGuard(cfg)` opens the models (in `DoFn.setup`)
and plugs into `pipeline.imaging.process_image` at two points:

- `before_resize(decoded)`: PDQ of the decoded original against the hash lists (MD5/SHA-1 of
  the raw bytes are checked even earlier, by `check_bytes`, before any decoding);
- `after_resize(rgb)`: the unsafe score and face boxes of the image about to be stored, the
  `drop` policy, and face blurring, so the stored bytes are the blurred ones.

Detectors are plug-ins (`Detector`: `detect(rgb) -> Detections`), like dedup's descriptors:
the default is NudeNet's detector, whose ONNX model ships inside the `nudenet` wheel
(`pipeline.detectors`); `--unsafe_model FILE.onnx` plugs in a user's classifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pipeline.hashlist import HashLists, Match
from pipeline.schema import Reason, Record, Stage, reject

__all__ = [
    "SafetyConfig",
    "SafetyNotes",
    "SafetyGuard",
    "Blocked",
    "blur_boxes",
    "blocked_record",
    "POLICIES",
]

POLICIES = ("drop", "tag", "off")


@dataclass(frozen=True)
class SafetyConfig:
    """What the image stage checks, and what it does about it."""

    unsafe_policy: str = "tag"  # drop: reject at or above the threshold; tag: store the score
    unsafe_threshold: float = 0.5
    unsafe_model: str = ""  # "" = the bundled NudeNet detector; else a user's ONNX classifier
    detect_faces: bool = True
    blur_faces: bool = True
    face_threshold: float = 0.4
    hash_lists: HashLists = field(default_factory=HashLists)

    def __post_init__(self) -> None:
        if self.unsafe_policy not in POLICIES:
            raise ValueError(f"unsafe_policy must be one of {POLICIES}, not {self.unsafe_policy!r}")
        if not 0.0 <= self.unsafe_threshold <= 1.0:
            raise ValueError(f"unsafe_threshold must be in [0, 1], not {self.unsafe_threshold}")

    @property
    def needs_model(self) -> bool:
        """Whether any check runs a detector on every kept image."""
        return self.unsafe_policy != "off" or self.detect_faces or self.blur_faces

    def to_json(self) -> dict[str, Any]:
        """The policy as recorded in the manifest: list names and sizes, never their hashes."""
        lists = {
            name: {kind: len(v) for kind, v in kinds.items()}
            for name, kinds in self.hash_lists.lists
        }
        return {
            "unsafe_policy": self.unsafe_policy,
            "unsafe_threshold": self.unsafe_threshold,
            "unsafe_model": self.unsafe_model or "nudenet-320n (bundled)",
            "detect_faces": self.detect_faces,
            "blur_faces": self.blur_faces,
            "face_threshold": self.face_threshold,
            "hash_lists": lists,
            "pdq_distance": self.hash_lists.pdq_distance,
        }


class SafetyNotes(NamedTuple):
    """What the checks found in one stored image."""

    punsafe: float | None = None  # None: not scored
    faces: tuple[tuple[int, int, int, int], ...] = ()  # (x, y, w, h) in stored-image pixels
    blurred: bool = False


class Blocked(Exception):
    """An image matched a hash list: drop it before it is stored, resized or logged."""

    def __init__(self, match: Match) -> None:
        super().__init__(match.detail())
        self.reason, self.detail, self.match = Reason.HASH_BLOCKLIST, match.detail(), match


def blocked_record(record: Record, match: Match) -> Record:
    """The rejects row of a listed image: key, stage, reason and list; no url, caption or page."""
    return reject(
        record, Stage.SAFETY, Reason.HASH_BLOCKLIST, match.detail(),
        url="", caption="", page_url="", query_ids=(), queries=(),
    )  # fmt: skip


def blur_boxes(rgb: Any, boxes: tuple[tuple[int, int, int, int], ...]) -> Any:
    """A copy of `rgb` with each (x, y, w, h) box Gaussian-blurred past recognition."""
    from PIL import ImageFilter

    out = rgb.copy()
    for x, y, w, h in boxes:
        pad = max(2, max(w, h) // 8)
        box = (max(0, x - pad), max(0, y - pad), min(rgb.width, x + w + pad),
               min(rgb.height, y + h + pad))  # fmt: skip
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        radius = max(2.0, max(w, h) / 6)
        out.paste(out.crop(box).filter(ImageFilter.GaussianBlur(radius)), box[:2])
    return out


class SafetyGuard:
    """The runtime of a `SafetyConfig` (models opened once per worker; thread-safe)."""

    def __init__(self, cfg: SafetyConfig, detectors: tuple[Any, Any] | None = None) -> None:
        """`detectors` (unsafe scorer, face detector) replaces the configured ones (plug-ins)."""
        from pipeline.detectors import make_detectors

        self.cfg = cfg
        if detectors is None:
            detectors = make_detectors(cfg) if cfg.needs_model else (None, None)
        self.unsafe, self.faces = detectors

    @property
    def inspects_original(self) -> bool:
        """Whether the decoded original must be seen before the size checks (PDQ lists)."""
        return self.cfg.hash_lists.wants_pdq

    def check_bytes(self, body: bytes) -> Match | None:
        """MD5 / SHA-1 of the raw downloaded bytes against the hash lists."""
        return self.cfg.hash_lists.match_bytes(body)

    def before_resize(self, decoded: Any) -> None:
        """PDQ of the decoded original against the lists; raises `Blocked` on a match."""
        match = self.cfg.hash_lists.match_image(decoded)
        if match:
            raise Blocked(match)

    def after_resize(self, rgb: Any) -> tuple[Any, SafetyNotes]:
        """Score and find faces in the image about to be stored; drop or blur per the policy."""
        from pipeline.imaging import ImageRejected

        punsafe, faces = None, ()
        shared = self.unsafe is not None and self.unsafe is self.faces
        found = self.unsafe.detect(rgb) if self.unsafe is not None else None
        if found is not None and self.cfg.unsafe_policy != "off":
            punsafe = round(found.punsafe, 4)
        if self.faces is not None:
            faces = (found if shared and found else self.faces.detect(rgb)).faces
        if self.cfg.unsafe_policy == "drop" and punsafe is not None:
            if punsafe >= self.cfg.unsafe_threshold:
                raise ImageRejected(Reason.UNSAFE, f"punsafe={punsafe:.4f}")
        if faces and self.cfg.blur_faces:
            return blur_boxes(rgb, faces), SafetyNotes(punsafe, faces, True)
        return rgb, SafetyNotes(punsafe, faces, False)
