"""The shared plotting path: readable axes, deterministic SVG, and self-contained reports."""

from __future__ import annotations

import base64
import os
import re
from html.parser import HTMLParser
from types import SimpleNamespace
from xml.etree import ElementTree

from dedup.report import write_report as overlap_report
from pipeline import plots
from pipeline.report import write_report as card_report
from tests.pipeline.test_report import _build_output

SVG = "{http://www.w3.org/2000/svg}"


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs).get("src") or "")


def _img_sources(page: str) -> list[str]:
    parser = _Images()
    parser.feed(page)
    return parser.sources


def _texts(img: str) -> list[str]:
    data = re.search(r"base64,([^\"]+)", img).group(1)  # type: ignore[union-attr]
    svg = ElementTree.fromstring(base64.b64decode(data))
    return [" ".join((t.text or "").split()) for t in svg.iter(f"{SVG}text")]


def test_both_reports_are_one_self_contained_file(tmp_path):
    card_dir, overlap_dir = tmp_path / "build", tmp_path / "overlap"
    _build_output(str(card_dir))
    card = open(card_report(str(card_dir)), encoding="utf-8").read()
    sample = SimpleNamespace(
        name="eval <set>",
        path="/evals/x",
        top1=[0.1, 0.2, 0.35, 0.9, 0.95],
        threshold=0.8,
        rows=[dict(eval_id="e1", key="k1", shard="00000.tar", similarity=0.95, duplicate=True)]
        + [dict(eval_id="e1", key="k2", shard="00000.tar", similarity=0.2, duplicate=False)],
        index=SimpleNamespace(ids=["e1"]),
        thumbs=[b"\xff\xd8jpeg"],
        train_thumbs={"k1": b"\xff\xd8jpeg"},
    )
    for row in sample.rows:
        row.update(caption="a caption", url="http://a.test/x.jpg")
    os.makedirs(overlap_dir)
    overlap = open(overlap_report(str(overlap_dir), [sample], [{"eval_set": "x"}])).read()
    for page in (card, overlap):
        sources = _img_sources(page)
        assert sources and all(src.startswith("data:image/") for src in sources), sources[:3]
    assert sorted(os.listdir(overlap_dir)) == ["report.html"]  # nothing beside it
    (histogram,) = [s for s in _img_sources(overlap) if s.startswith("data:image/svg")]
    assert "threshold 0.800" in _texts(histogram)


def _ticks(img: str, axis: str) -> list[str]:
    """The tick labels of one axis ("x" or "y") of a plot."""
    data = re.search(r"base64,([^\"]+)", img).group(1)  # type: ignore[union-attr]
    svg = ElementTree.fromstring(base64.b64decode(data))
    groups = [g for g in svg.iter(f"{SVG}g") if g.get("id", "").startswith(f"{axis}tick_")]
    return [t.text or "" for g in groups for t in g.iter(f"{SVG}text")]


def test_count_axes_have_integer_ticks_and_log_axes_say_so():
    ticks = _ticks(plots.bars("few", ["a", "b", "c"], [1, 2, 3], "samples"), "x")
    assert ticks == ["0", "1", "2", "3"]  # counts: no 0.5 steps (which would read 0, 0, 1, 2, 2)
    ticks = _ticks(plots.histogram("h", [1, 1, 2, 5], "x", bins=plots.integer_bins([1, 2, 5])), "y")
    assert ticks == ["0", "1", "2"]
    wide = plots.bars("wide", ["a", "b"], [3, 40_000], "samples", log=True)
    assert "samples (log scale)" in _texts(wide)
    assert _ticks(wide, "x") == [
        "1",
        "10",
        "100",
        "1,000",
        "10,000",
        "100,000",
    ]  # more than min/max


def test_rank_frequency_draws_the_cap():
    texts = _texts(plots.rank_frequency("q", [50, 50, 20, 3, 1], "samples", cap=50))
    assert "cap 50" in texts and "rank (log scale)" in texts


def test_plots_are_deterministic_and_web_text_is_plain_text():
    hostile = '$\\frac{1}{0}$ <script>alert("x")</script>'
    first = plots.bars("langs", [hostile, "en"], [5, 9], "samples")
    assert first == plots.bars("langs", [hostile, "en"], [5, 9], "samples")
    assert plots.label(hostile, 40) in _texts(first)  # no mathtext, no markup: the text itself
    assert "<script>" not in first
