"""Pure image functions: sniff the format from magic bytes, decode safely, validate, resize, encode.

result = process_image(body, ImageConfig())  # -> ProcessedImage or raises ImageRejected
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

from pipeline.exif import exif_json
from pipeline.resize import resize, target_size
from pipeline.schema import Reason

__all__ = [
    "ImageConfig",
    "ProcessedImage",
    "ImageRejected",
    "sniff_mime",
    "process_image",
    "thumbnail_jpeg",
]

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


@dataclass(frozen=True)
class ImageConfig:
    """How images are validated and resized (img2dataset's `keep_ratio`, downscale only)."""

    image_size: int = 256
    resize_mode: str = "keep_ratio"  # see pipeline.resize
    resize_only_if_bigger: bool = True
    encode_format: str = "jpg"  # jpg, webp or png
    min_image_size: int = 64  # both original sides must be at least this
    max_aspect_ratio: float = 3.0
    max_pixels: int = 40_000_000  # decompression-bomb guard, checked before decoding
    jpeg_quality: int = 95


@dataclass(frozen=True)
class ProcessedImage:
    """A validated, resized, re-encoded image and its original properties."""

    jpeg: bytes  # the stored bytes, in `ext` format (JPEG by default)
    ext: str
    width: int
    height: int
    original_width: int
    original_height: int
    mime: str
    sha256: str
    safety: object = None  # pipeline.safety.SafetyNotes when a guard inspected the image
    exif: str = "{}"  # img2dataset's `exif` column: JSON of the original's EXIF tags


class ImageRejected(Exception):
    """Raised with a drop reason when an image cannot be kept."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def sniff_mime(body: bytes) -> str:
    """The image MIME type from magic bytes, or "" when the bytes are not a known image."""
    for magic, mime in _MAGIC:
        if body.startswith(magic):
            return mime
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    return ""


def _open_checked(body: bytes, cfg: ImageConfig) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(body))
            w, h = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageRejected(Reason.DECOMPRESSION_BOMB, str(err)) from err
    except Exception as err:  # PIL raises many types on junk input
        raise ImageRejected(Reason.CORRUPT_IMAGE, f"{type(err).__name__}: {err}") from err
    if w * h > cfg.max_pixels:
        raise ImageRejected(Reason.DECOMPRESSION_BOMB, f"{w}x{h} pixels")
    return img


def _decode(img: Image.Image, cfg: ImageConfig) -> Image.Image:
    try:
        if img.format == "JPEG" and cfg.resize_mode != "no":  # let libjpeg downscale by 2/4/8
            w, h = target_size(img.width, img.height, cfg.image_size, cfg.resize_mode, True)
            img.draft("RGB", (w, h))
        img.load()
        if img.getexif().get(0x0112, 1) != 1:  # only rotate when EXIF says so (no copy otherwise)
            img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA", "P", "PA"):
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba)
        if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit and float: scale to 8 bits
            img = (
                img.point(lambda v: v / 256).convert("L")
                if img.mode.startswith("I;16")
                else img.convert("L")
            )
        return img if img.mode == "RGB" else img.convert("RGB")
    except Exception as err:
        raise ImageRejected(Reason.CORRUPT_IMAGE, f"{type(err).__name__}: {err}") from err


def _validate_size(w: int, h: int, cfg: ImageConfig) -> None:
    if min(w, h) < cfg.min_image_size:
        raise ImageRejected(Reason.IMAGE_TOO_SMALL, f"{w}x{h}")
    if max(w, h) / min(w, h) > cfg.max_aspect_ratio:
        raise ImageRejected(Reason.BAD_ASPECT_RATIO, f"{w}x{h}")


_SAVE = {"jpg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp"), "png": ("PNG", "image/png")}


_SCRATCH = threading.local()


def _scratch_file() -> io.BufferedRandom | None:
    """This thread's in-memory file with a real descriptor (Linux memfd), or None elsewhere.

    Pillow encodes into a file descriptor with the GIL released (`encode_to_file`), but into a
    BytesIO while holding it; JPEG encoding is a third of the per-image CPU, so encoding through
    a memfd lets the download threads encode on every core at once. Same encoder, same bytes.
    """
    scratch = getattr(_SCRATCH, "file", False)
    if scratch is False:
        try:
            scratch = os.fdopen(os.memfd_create("wit-encode", os.MFD_CLOEXEC), "w+b")
        except (AttributeError, OSError):  # not Linux, or no memfd: BytesIO, GIL held
            scratch = None
        _SCRATCH.file = scratch
    return scratch


def _save(img: Image.Image, fmt: str, **params: object) -> bytes:
    """`img` encoded as `fmt`, through this thread's scratch memfd when there is one."""
    out = _scratch_file()
    if out is None:
        buf = io.BytesIO()
        img.save(buf, format=fmt, **params)
        return buf.getvalue()
    out.seek(0)
    out.truncate()
    img.save(out, format=fmt, **params)
    out.flush()
    out.seek(0)
    return out.read()


def _encode(img: Image.Image, cfg: ImageConfig) -> bytes:
    fmt, _ = _SAVE[cfg.encode_format]
    if fmt == "PNG":
        return _save(img, fmt)
    return _save(img, fmt, quality=cfg.jpeg_quality)


def thumbnail_jpeg(img: Image.Image, side: int = 128) -> bytes:
    """A small JPEG (longer side at most `side`) for HTML reports."""
    img = img.convert("RGB")
    img.thumbnail((side, side))
    return _save(img, "JPEG", quality=80)


def process_image(body: bytes, cfg: ImageConfig, guard: Any = None) -> ProcessedImage:
    """Validate downloaded bytes and return the resized JPEG; raises `ImageRejected`.

    A `guard` (pipeline.safety.SafetyGuard) sees the decoded original before the resize (hash
    lists) and the resized image before it is encoded (scores, faces, blurring).
    """
    mime = sniff_mime(body)
    if not mime:
        raise ImageRejected(Reason.NOT_AN_IMAGE, repr(body[:16]))
    img = _open_checked(body, cfg)
    original_w, original_h = img.size
    decoded, notes = None, None
    if guard is not None and guard.inspects_original:  # a listed image goes before any check
        decoded = _decode(img, cfg)
        guard.before_resize(decoded)
    _validate_size(original_w, original_h, cfg)
    exif = exif_json(img)
    decoded = decoded or _decode(img, cfg)
    rgb = resize(decoded, cfg.image_size, cfg.resize_mode, cfg.resize_only_if_bigger)
    if guard is not None:
        rgb, notes = guard.after_resize(rgb)
    return ProcessedImage(
        jpeg=_encode(rgb, cfg),
        ext=cfg.encode_format,
        width=rgb.width,
        height=rgb.height,
        original_width=original_w,
        original_height=original_h,
        mime=mime,
        sha256=hashlib.sha256(body).hexdigest(),
        safety=notes,
        exif=exif,
    )
