"""The shard parquet keeps img2dataset's columns, `exif` included, with its tag naming."""

from __future__ import annotations

import io
import json

import pyarrow as pa
from PIL import Image

from pipeline.exif import exif_json
from pipeline.imaging import ImageConfig, process_image
from pipeline.schema import Record
from pipeline.shards import _PARQUET_SCHEMA

# What img2dataset writes per sample (its downloader's schema with its defaults: the url and
# caption input columns, extract_exif=True, compute_hash="sha256"), and the type of each.
IMG2DATASET_COLUMNS = {
    "url": pa.string(),
    "caption": pa.string(),
    "key": pa.string(),
    "status": pa.string(),
    "error_message": pa.string(),
    "width": pa.int32(),
    "height": pa.int32(),
    "original_width": pa.int32(),
    "original_height": pa.int32(),
    "exif": pa.string(),
    "sha256": pa.string(),
}


def _jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "WitCam"  # Make
    exif[0x0110] = "Model 1"  # Model
    exif.get_ifd(0x8769)[0x9003] = "2024:05:17 10:00:00"  # DateTimeOriginal
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 30, 30)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_shard_parquet_has_every_img2dataset_column():
    names = set(_PARQUET_SCHEMA.names)
    assert set(IMG2DATASET_COLUMNS) <= names, set(IMG2DATASET_COLUMNS) - names
    for name, kind in IMG2DATASET_COLUMNS.items():  # ints are widened to int64, never narrowed
        ours = _PARQUET_SCHEMA.field(name).type
        assert ours == kind or (pa.types.is_integer(kind) and ours == pa.int64()), name


def test_exif_is_json_of_the_original_tags():
    img = process_image(_jpeg_with_exif(), ImageConfig())
    tags = json.loads(img.exif)
    assert tags["Image Make"] == "WitCam" and tags["Image Model"] == "Model 1"
    assert tags["EXIF DateTimeOriginal"] == "2024:05:17 10:00:00"
    assert "EXIF MakerNote" not in tags


def test_no_exif_is_an_empty_object():
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "PNG")
    assert exif_json(Image.open(buf)) == "{}"


def test_exif_reaches_the_parquet_row():
    row = Record(url="http://a/x.jpg", caption="x", exif='{"Image Make": "WitCam"}')
    table = pa.Table.from_pylist([row.to_sample_json()], schema=_PARQUET_SCHEMA)
    assert table.column("exif").to_pylist() == ['{"Image Make": "WitCam"}']
