"""Eval-set readers: labelled folder, class folders, WebDataset tars, parquet."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from dedup.evalsets import parse_eval_spec, read_eval_set
from dedup.wds import write_tar
from tests.dedup.conftest import png_bytes, scene


def test_parse_eval_spec() -> None:
    assert parse_eval_spec("cifar=/data/cifar") == ("cifar", "/data/cifar")
    assert parse_eval_spec("/data/stl10/") == ("stl10", "/data/stl10/")
    assert parse_eval_spec("s3://b/x=1/evals") == ("evals", "s3://b/x=1/evals")


def test_labelled_folder(world: dict) -> None:
    items = list(read_eval_set("toy", str(world["eval"])))
    assert len(items) == 16
    assert items[0].eval_id == "e00" and items[0].label == "class0" and items[0].eval_set == "toy"


def test_class_subfolders(tmp_path) -> None:
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(2):
            (tmp_path / label / f"{i}.png").write_bytes(png_bytes(scene(i)))
    items = list(read_eval_set("pets", str(tmp_path)))
    assert sorted(i.eval_id for i in items) == ["cat/0", "cat/1", "dog/0", "dog/1"]
    assert {i.label for i in items} == {"cat", "dog"}


def test_webdataset_tars(tmp_path) -> None:
    samples = [
        (f"k{i}", {"png": png_bytes(scene(i)), "cls": str(i % 2).encode()}) for i in range(3)
    ]
    write_tar(str(tmp_path / "000.tar"), samples)
    items = list(read_eval_set("wds", str(tmp_path)))
    assert [(i.eval_id, i.label) for i in items] == [("k0", "0"), ("k1", "1"), ("k2", "0")]


def test_parquet_with_image_bytes(tmp_path) -> None:
    images = [{"bytes": png_bytes(scene(i)), "path": None} for i in range(2)]
    table = pa.table({"id": ["a", "b"], "label": ["x", "y"], "image": images})
    pq.write_table(table, tmp_path / "eval.parquet")
    items = list(read_eval_set("pq", str(tmp_path / "eval.parquet")))
    assert [(i.eval_id, i.label) for i in items] == [("a", "x"), ("b", "y")]
    assert items[0].data.startswith(b"\x89PNG")
