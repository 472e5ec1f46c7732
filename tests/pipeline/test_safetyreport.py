"""The safety block of summary.json and the card's safety section."""

from __future__ import annotations

from pipeline.accounting import summarize
from pipeline.safetyreport import format_safety, safety_section, shard_safety
from pipeline.schema import Record


def test_summary_safety_adds_up_drops_from_every_stage_and_shard_counts():
    records = [
        Record(url="a", caption="", punsafe=0.1, faces=((1, 2, 3, 4), (5, 6, 7, 8)), faces_blurred=True),
        Record(url="b", caption="", punsafe=0.9),
        Record(url="c", caption=""),
    ]  # fmt: skip
    shards = [{"count": 3, "safety": shard_safety(records)}]
    drops = [
        (("read", "consent/robots_meta"), 4),
        (("download", "consent/robots_meta"), 1),  # a page header and a page meta: one signal
        (("download", "consent/tdmrep_json"), 2),
        (("download", "opted_out"), 1),
        (("safety", "hash_blocklist"), 3),
        (("safety", "unsafe"), 5),
        (("image", "too_small"), 7),
    ]
    summary = summarize(26, shards, drops)
    safety = summary["safety"]
    assert summary["balanced"] and safety["hash_blocklist"] == 3 and safety["unsafe_dropped"] == 5
    assert safety["consent"] == {"consent/robots_meta": 5, "consent/tdmrep_json": 2, "opted_out": 1}
    assert safety["consent_refused"] == 8
    assert (safety["kept_scored"], safety["kept_with_faces"], safety["kept_faces"], safety["kept_blurred"]) == (2, 1, 2, 1)  # fmt: skip
    assert "3 removed by hash lists" in format_safety(summary)


def test_card_section_counts_tagged_images_at_the_policy_threshold():
    summary = summarize(3, [{"count": 3, "safety": {}}], [])
    rows = [{"punsafe": 0.2}, {"punsafe": 0.7}, {"punsafe": 0.75}, {"punsafe": None}]
    html = safety_section(summary, {"unsafe_policy": "tag", "unsafe_threshold": 0.7}, rows)
    assert "kept and tagged unsafe (punsafe &gt;= 0.7)</th><td class=n>2<" in html  # at: tagged
    assert "kept images scored</th><td class=n>3<" in html and "<svg" in html
