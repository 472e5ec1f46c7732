"""Shard URL expansion, sizes.json, and streaming tar reading with damage."""

from __future__ import annotations

from collections import Counter

from train.shards import (
    count_samples,
    expand_braces,
    expand_urls,
    iter_samples,
    read_sizes,
    split_key,
)


def test_brace_ranges_keep_zero_padding() -> None:
    assert expand_braces("s3://b/shards/{00000..00002}.tar") == [
        "s3://b/shards/00000.tar",
        "s3://b/shards/00001.tar",
        "s3://b/shards/00002.tar",
    ]
    assert expand_braces("{a,b}/{8..10}") == ["a/8", "a/9", "a/10", "b/8", "b/9", "b/10"]
    assert expand_braces("plain.tar") == ["plain.tar"]


def test_expand_urls_globs_and_joins(shard_dir: str) -> None:
    urls = expand_urls([f"{shard_dir}/*.tar"])
    assert len(urls) == 4 and urls == sorted(urls)
    assert expand_urls(f"{shard_dir}/00000.tar::{shard_dir}/{{00002..00003}}.tar")[1:] == urls[2:]


def test_sizes_and_counts(shard_urls: list[str]) -> None:
    assert read_sizes(shard_urls) == {u: 48 for u in shard_urls}
    assert count_samples(shard_urls) == 192
    assert read_sizes(["/nonexistent/00000.tar"]) is None


def test_samples_grouped_by_key(shard_urls: list[str]) -> None:
    stats: Counter[str] = Counter()
    samples = list(iter_samples(shard_urls[0], stats))
    assert len(samples) == 48 and not stats
    first = samples[0]
    assert {"jpg", "txt", "json"} <= set(first) and len(first["__key__"]) == 16
    assert first["__url__"] == shard_urls[0]
    assert split_key("dir/abc.seg.png") == ("dir/abc", "seg.png")


def test_truncated_and_missing_shards_are_counted_not_fatal(
    shard_urls: list[str], tmp_path
) -> None:
    data = open(shard_urls[0], "rb").read()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2 + 100])
    stats: Counter[str] = Counter()
    samples = list(iter_samples(str(cut), stats))
    assert 10 < len(samples) < 48
    assert stats["shard_error"] == 1
    assert list(iter_samples(str(tmp_path / "missing.tar"), stats)) == []
    assert stats["shard_error"] == 2
