import glob
import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.htmlimages import extract_images
from pipeline.read import ReadConfig, read_table, read_warc, read_wat
from tests.conftest import SHARED_DATA

CC = os.path.join(SHARED_DATA, "commoncrawl")


def test_wat_links_resolved_against_page(small_web):
    records = [r for path in glob.glob(f"{small_web}/crawl/*.wat.gz") for r in read_wat(path)]
    good = [r for r in records if not r.rejected]
    assert len(good) > 150
    assert all(r.url.startswith(("http://", "https://", "data:")) for r in good)
    assert all(r.page_url.startswith("http://www.sample.test/pages/") for r in good)
    rejected = sorted(r.reason for r in records if r.rejected)  # planted: one malformed record,
    assert rejected == ["consent/robots_meta"] * 3 + ["malformed_record"]  # one noai page


def test_warc_and_wat_agree_on_sample_web(small_web):
    wat = {
        (r.url, r.caption)
        for p in glob.glob(f"{small_web}/crawl/*.wat.gz")
        for r in read_wat(p)
        if not r.rejected or r.reason.startswith("consent/")
    }
    warc = {
        (r.url, r.caption)
        for p in glob.glob(f"{small_web}/crawl/*.warc.gz")
        if ".wat." not in p
        for r in read_warc(p)
    }
    assert wat <= warc  # the WAT lost one page to its planted malformed record
    assert 0 < len(warc - wat) <= 12


@pytest.mark.skipif(not os.path.isdir(CC), reason="shared data absent")
def test_real_common_crawl_warc():
    records = list(read_warc(os.path.join(CC, "whirlwind.warc.gz")))
    urls = [r.url for r in records]
    assert any(
        u.startswith("https://upload.wikimedia.org/") for u in urls
    )  # protocol-relative resolved
    assert any(u.startswith("https://an.wikipedia.org/static/") for u in urls)  # relative resolved
    assert "Escudo d'armas" in {r.caption for r in records}
    assert all(r.page_url == "https://an.wikipedia.org/wiki/Escopete" for r in records)


@pytest.mark.skipif(not os.path.isdir(CC), reason="shared data absent")
def test_real_common_crawl_wat_request_only_yields_nothing_bad():
    records = list(read_wat(os.path.join(CC, "whirlwind.warc.wat.gz")))
    assert all(r.rejected for r in records)  # the sample's only metadata record is a request


def test_truncated_wat_file_is_recorded_not_raised(small_web, tmp_path):
    src = sorted(glob.glob(f"{small_web}/crawl/*.wat.gz"))[0]
    data = open(src, "rb").read()
    bad = tmp_path / "bad.warc.wat.gz"
    bad.write_bytes(data[: len(data) // 2] + b"garbage")
    records = list(read_wat(str(bad)))
    assert records[-1].reason == "truncated_file" and records[-1].source.startswith(
        "bad.warc.wat.gz#"
    )
    assert sum(not r.rejected for r in records) > 10


def test_html_extraction_srcset_picture_base_and_charset():
    html = """<html><head><meta charset="latin-1"><base href="http://b.example/dir/"></head><body>
    <img srcset="s.jpg 100w, l.jpg 800w" alt="caf\xe9">
    <picture><source srcset="p.webp 2x"><img src="/p.jpg" alt="pic"></picture>
    <img src="//cdn.example/x.png" title="titled">""".encode("latin-1")
    assert extract_images(html, "http://a.example/page") == [
        ("http://b.example/dir/l.jpg", "café"),
        ("http://b.example/p.jpg", "pic"),
        ("http://b.example/dir/p.webp", "pic"),
        ("http://cdn.example/x.png", "titled"),
    ]


def test_url_tables(tmp_path):
    rows = [
        {"url": "http://a.example/1.jpg", "caption": "a red circle"},
        {"url": "", "caption": "x"},
    ]
    cfg = ReadConfig("", "csv")
    (tmp_path / "t.csv").write_text("url,caption\nhttp://a.example/1.jpg,a red circle\n,x\n")
    with gzip.open(tmp_path / "t.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    (tmp_path / "t.tsv").write_text("link\ttext\nhttp://a.example/1.jpg\ta red circle\n")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet")
    for name, fmt, c in [
        ("t.csv", "csv", cfg),
        ("t.jsonl.gz", "jsonl", cfg),
        ("t.parquet", "parquet", cfg),
        ("t.tsv", "tsv", ReadConfig("", "tsv", url_col="link", caption_col="text")),
    ]:
        out = list(read_table(str(tmp_path / name), fmt, c))
        assert (out[0].url, out[0].caption) == ("http://a.example/1.jpg", "a red circle"), name
        assert all(r.rejected for r in out[1:]), name


def test_common_crawl_paths_file(small_web, tmp_path):
    from pipeline.read import expand_input

    paths = tmp_path / "wat.paths.gz"
    with gzip.open(paths, "wt") as f:
        f.write(
            "crawl-data/CC-MAIN-2024-22/segments/1/wat/a.warc.wat.gz\n\ncrawl-data/b.warc.wat.gz\n"
        )
    assert expand_input(str(paths)) == [
        "s3://commoncrawl/crawl-data/CC-MAIN-2024-22/segments/1/wat/a.warc.wat.gz",
        "s3://commoncrawl/crawl-data/b.warc.wat.gz",
    ]
    local = expand_input(str(paths), f"{small_web}/")
    assert local[0] == f"{small_web}/crawl-data/CC-MAIN-2024-22/segments/1/wat/a.warc.wat.gz"
    assert expand_input(f"{small_web}/crawl/*.wat.gz") == sorted(
        glob.glob(f"{small_web}/crawl/*.wat.gz")
    )
