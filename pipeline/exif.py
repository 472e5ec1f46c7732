"""The `exif` column of img2dataset: a JSON object of the original image's EXIF tags.

Tags are named as img2dataset names them (through exifread): the IFD, a space, the tag name
(`Image Make`, `EXIF DateTimeOriginal`, `GPS GPSLatitude`), each value as text. Like its
`details=False`, the maker notes and the embedded thumbnail are left out. `{}` when there is none.
"""

from __future__ import annotations

import json

from PIL import ExifTags, Image

__all__ = ["exif_json"]

_IFDS = ((0x8769, "EXIF", ExifTags.TAGS), (0x8825, "GPS", ExifTags.GPSTAGS))
_SKIPPED = {0x927C, 0x8769, 0x8825, 0xA005, 0x0201, 0x0202}  # maker note, IFD pointers, thumbnail
_MAX_BYTES = 64  # longer binary values (user comments, prints) are not text worth keeping


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        if len(value) > _MAX_BYTES:
            return None
        value = value.decode("latin-1").strip("\x00")
    text = str(value).strip()
    return text or None


def _named(tags: dict, prefix: str, names: dict) -> dict[str, str]:
    out = {}
    for tag, value in tags.items():
        text = None if tag in _SKIPPED else _text(value)
        if text is not None:
            out[f"{prefix} {names.get(tag, f'Tag 0x{tag:04X}')}"] = text
    return out


def exif_json(img: Image.Image) -> str:
    """The EXIF tags of an opened (not yet transposed) image as stable JSON (sorted keys)."""
    try:
        exif = img.getexif()
        tags = _named(dict(exif), "Image", ExifTags.TAGS)
        for pointer, prefix, names in _IFDS:
            tags.update(_named(dict(exif.get_ifd(pointer)), prefix, names))
    except Exception:  # noqa: BLE001 - a broken EXIF block is not a broken image
        tags = {}
    return json.dumps(tags, sort_keys=True, ensure_ascii=False)
