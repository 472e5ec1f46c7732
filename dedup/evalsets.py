"""Evaluation-set readers: image folders (+ labels file), class sub-folders, WebDataset, parquet.

`read_eval_set(name, path)` detects the layout and yields `EvalImage`s; `parse_eval_spec`
turns the CLI's `NAME=PATH` into a pair. Layouts:

- folder with `labels.tsv`/`labels.csv` (columns `id`, `file`, `label`; or `file` plus
  `class_name`) and images beside it or under `images/`; the sample web's `evalset/`
- ImageNet style: one sub-folder per class
- WebDataset: `.tar` files (a file, a folder of them, or a glob); label from `.cls`/`.txt`
- parquet with image bytes (`image`/`jpg`/`png`/`bytes` column, or a struct with `bytes`)
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow.parquet as pq

from dedup.wds import iter_tar
from pipeline import storage

__all__ = ["EvalImage", "parse_eval_spec", "read_eval_set", "IMAGE_EXTS"]

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
_BYTES_COLUMNS = ("image", "jpg", "png", "webp", "bytes", "img")


@dataclass(frozen=True)
class EvalImage:
    """One image of a named evaluation set."""

    eval_set: str
    eval_id: str
    label: str
    data: bytes


def parse_eval_spec(spec: str) -> tuple[str, str]:
    """`NAME=PATH` -> (NAME, PATH); a bare PATH is named after its last component."""
    name, sep, path = spec.partition("=")
    if sep and name and "/" not in name:
        return name, path
    return os.path.basename(spec.rstrip("/")) or "eval", spec


def _is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTS)


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def read_eval_set(name: str, path: str) -> Iterator[EvalImage]:
    """Yield the images of the eval set at `path`, whatever its layout."""
    low = path.lower()
    if low.endswith(".parquet") or "*.parquet" in low:
        yield from _read_parquet(name, path)
    elif low.endswith(".tar") or "*.tar" in low:
        yield from _read_tars(name, storage.glob(path) if "*" in path else [path])
    elif storage.glob(storage.join(path, "*.tar")):
        yield from _read_tars(name, storage.glob(storage.join(path, "*.tar")))
    elif storage.glob(storage.join(path, "*.parquet")):
        yield from _read_parquet(name, storage.join(path, "*.parquet"))
    elif _labels_file(path):
        yield from _read_labelled_folder(name, path, _labels_file(path))
    else:
        yield from _read_image_folder(name, path)


def _labels_file(path: str) -> str:
    for fname in ("labels.tsv", "labels.csv"):
        if storage.exists(storage.join(path, fname)):
            return storage.join(path, fname)
    return ""


def _read_labelled_folder(name: str, root: str, labels: str) -> Iterator[EvalImage]:
    text = storage.read_bytes(labels).decode("utf-8", "replace")
    rows = csv.DictReader(io.StringIO(text), delimiter="\t" if labels.endswith(".tsv") else ",")
    for row in rows:
        file = row.get("file") or row.get("filename") or row.get("path") or ""
        if not file:
            continue
        candidates = [storage.join(root, file), storage.join(root, "images", file)]
        found = next((p for p in candidates if storage.exists(p)), "")
        if not found:
            continue
        eval_id = row.get("id") or _stem(file)
        label = row.get("label") or row.get("class_name") or row.get("wnid") or ""
        yield EvalImage(name, eval_id, label, storage.read_bytes(found))


def _read_image_folder(name: str, root: str) -> Iterator[EvalImage]:
    """Images directly in `root` (no label), then one sub-folder per class."""
    for path in storage.glob(storage.join(root, "*")):
        if _is_image(path):
            yield EvalImage(name, _stem(path), "", storage.read_bytes(path))
    for path in storage.glob(storage.join(root, "*", "*")):
        if _is_image(path):
            label = os.path.basename(os.path.dirname(path))
            yield EvalImage(name, f"{label}/{_stem(path)}", label, storage.read_bytes(path))


def _read_tars(name: str, paths: list[str]) -> Iterator[EvalImage]:
    for path in paths:
        for key, group in iter_tar(path):
            image = next((group[e] for e in ("jpg", "jpeg", "png", "webp") if e in group), b"")
            if not image:
                continue
            label = (group.get("cls") or group.get("txt") or b"").decode("utf-8", "replace")
            yield EvalImage(name, key, label.strip(), image)


def _image_bytes(value: object) -> bytes:
    if isinstance(value, dict):
        value = value.get("bytes")
    return bytes(value) if isinstance(value, bytes | bytearray) else b""


def _read_parquet(name: str, pattern: str) -> Iterator[EvalImage]:
    for path in storage.glob(pattern) if "*" in pattern else [pattern]:
        table = pq.read_table(io.BytesIO(storage.read_bytes(path)))
        col = next((c for c in _BYTES_COLUMNS if c in table.column_names), None)
        if col is None:
            raise ValueError(f"{path}: no image-bytes column (one of {_BYTES_COLUMNS})")
        id_col = next((c for c in ("id", "key", "eval_id") if c in table.column_names), None)
        for i, row in enumerate(table.to_pylist()):
            eval_id = str(row[id_col]) if id_col else f"{i:08d}"
            label = "" if row.get("label") is None else str(row["label"])
            data = _image_bytes(row[col])
            if data:
                yield EvalImage(name, eval_id, label, data)
