"""The dataset card: renders from a build output, plots embedded, web text escaped."""

from __future__ import annotations

import io
import json
import re
from xml.etree import ElementTree

from PIL import Image

from pipeline import storage
from pipeline.accounting import summarize
from pipeline.cardplots import label
from pipeline.cli import main
from pipeline.report import write_report as main_report
from pipeline.schema import Record
from pipeline.shards import write_shard

HOSTILE = '<script>alert("pwned")</script> a cat & a dog'


def _jpeg(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (80 + i, 60), (i * 20 % 255, 90, 160)).save(buf, format="JPEG")
    return buf.getvalue()


def _build_output(out: str) -> None:
    records = [
        Record(
            url=f"http://a.test/{i}.jpg?<b>",
            caption=HOSTILE if i == 3 else f"a photo of cat number {i}",
            image=_jpeg(i),
            width=80 + i,
            height=60,
            original_width=800 + 10 * i,
            original_height=600,
            queries=("cat",) if i % 2 else ("cat", "$x$ <i>dog</i>"),
            language="en" if i % 3 else "de",
        )
        for i in range(10)
    ]
    records.sort(key=lambda r: r.key)
    stats, _ = write_shard(storage.join(out, "shards"), 0, records)
    drops = [(("filter_text", "empty_caption"), 4), (("download", "http_404"), 2)]
    summary = summarize(16, [stats], drops)
    storage.write_bytes(f"{out}/summary.json", json.dumps(summary).encode())
    manifest = {"shards": [stats], "versions": {"wit-pipeline": "test"}}
    storage.write_bytes(f"{out}/manifest.json", json.dumps(manifest).encode())


def test_report_renders_with_plots_and_escaped_captions(tmp_path, capsys):
    out = str(tmp_path)
    _build_output(out)
    assert main(["report", out]) == 0
    path = capsys.readouterr().out.strip()
    assert path == f"{out}/report.html"
    page = open(path, encoding="utf-8").read()
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;pwned&quot;)" in page
    assert "?&lt;b&gt;" in page and "<b>" not in page
    assert page.count('class="plot"') == 7 and page.count("<figure>") == 10
    assert "adds up" in page and page.count("<svg") >= 6
    assert "$x$ &lt;i&gt;dog&lt;/i&gt;" in page and "<i>" not in page  # a query, escaped
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        ElementTree.fromstring(svg)  # every plot is well-formed SVG


def test_labels_are_one_short_line():
    assert label("a  cat\n dog") == "a cat dog"
    assert len(label("word " * 40)) <= 28


def test_report_of_a_build_that_kept_nothing(tmp_path):
    summary = summarize(5, [], [(("download", "blocked_address"), 5)])
    storage.write_bytes(f"{tmp_path}/summary.json", json.dumps(summary).encode())
    storage.write_bytes(f"{tmp_path}/manifest.json", json.dumps({"shards": []}).encode())
    page = open(main_report(str(tmp_path)), encoding="utf-8").read()
    assert page.count('class="plot"') == 7 and "<figure>" not in page
