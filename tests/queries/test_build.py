"""Sources, the dump reader, n-gram counting and `wit queries build` on tiny fixtures."""

from __future__ import annotations

import gzip
import os
from collections import Counter

import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from queries.build import BuildConfig, build_queries, write_queries
from queries.ngrams import NgramCounter, line_ngrams, pmi
from queries.sources import read_pageviews, read_term_table, read_wordnet
from queries.wikidump import read_pages, strip_wikitext

REAL_WORDNET = "/usr/share/wordnet"


def test_wordnet_fixture(wordnet_dir: str) -> None:
    skips: Counter[str] = Counter()
    lemmas = read_wordnet(wordnet_dir, skips)
    assert lemmas["cat"] == 2 and lemmas["felis catus"] == 1 and lemmas["red"] == 1
    assert "ruby" in lemmas and "ruby(p)" not in lemmas
    assert skips["wordnet_bad_line"] == 2
    assert skips["wordnet_missing_data.verb"] == 1


@pytest.mark.skipif(not os.path.isdir(REAL_WORDNET), reason="wordnet-base not installed")
def test_real_wordnet() -> None:
    skips: Counter[str] = Counter()
    lemmas = read_wordnet(REAL_WORDNET, skips)
    assert len(lemmas) > 140_000 and lemmas["cat"] >= 8
    assert not skips


def test_strip_wikitext() -> None:
    text = strip_wikitext(
        "{{Infobox|a={{b}}}}'''Cat''' is a [[felis|feline]].<ref>x</ref> [[File:x.jpg|thumb|a "
        "[[dog]]]] [http://e.com site] &amp; <!-- c -->\n== H ==\n* item\n[[Category:Cats]]"
    )
    assert text.split() == ["Cat", "is", "a", "feline.", "site", "&", "H", "item"]


def test_read_pages(wiki_dump: str) -> None:
    skips: Counter[str] = Counter()
    pages = list(read_pages(wiki_dump, skips))
    assert [p.title for p in pages] == ["Cat 0", "Cat 1", "Cat 2", "Kitty", "Talk:Cat"]
    assert pages[3].redirect and pages[4].ns == 1
    assert skips["wiki_bad_page"] == 1
    body = strip_wikitext(pages[0].text)
    assert "tablecell" not in body and "Infobox" not in body and "domesticated" in body


def test_ngrams_spill_and_pmi(tmp_path) -> None:
    assert line_ngrams("New York, big city") == (
        ["new", "york", "big", "city"],
        ["new york", "big city"],
    )
    counter = NgramCounter(str(tmp_path), max_keys=3)
    for _ in range(4):
        counter.add_text("a b c d e")
    assert counter.unigrams.runs
    assert dict(counter.unigrams.items()) == {k: 4 for k in "abcde"}
    assert pmi(10, 10, 10, 1000) == 100.0


def test_pageviews_and_tables(tmp_path) -> None:
    hourly = tmp_path / "pageviews-1.gz"
    hourly.write_bytes(gzip.compress(b"en Cat_0 50 0\nen.m Cat_0 30 0\nde Cat_0 99 0\nen x y z\n"))
    daily = tmp_path / "pageviews-2"
    daily.write_text("en.wikipedia Cat_1 12 desktop 10 A10\n")
    skips: Counter[str] = Counter()
    views = read_pageviews([str(hourly), str(daily)], "en", skips)
    assert views == {"Cat 0": 80, "Cat 1": 10} and skips["pageviews_bad_line"] == 1
    table = tmp_path / "t.tsv"
    table.write_text("term\tcount\nhot dog\t500\nbad\n")
    assert list(read_term_table(str(table), skips)) == [("hot dog", 500)]


def _cfg(wordnet_dir: str, wiki_dump: str, tmp_path, **kw) -> BuildConfig:
    views = tmp_path / "pv"
    views.write_text("en Cat_0 100 0\nen Cat_1 5 0\n")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("hot dog stand\n" * 3)
    base = dict(
        wordnet_dir=wordnet_dir,
        wikipedia_dumps=(wiki_dump,),
        pageviews=(str(views),),
        texts=(str(corpus),),
        min_unigram_count=3,
        min_bigram_count=3,
        min_pmi=1.5,
        min_title_views=70,
    )
    return BuildConfig(**(base | kw))


def test_build_sources_rank_cap_determinism(wordnet_dir, wiki_dump, tmp_path) -> None:
    rows, stats = build_queries(_cfg(wordnet_dir, wiki_dump, tmp_path))
    by_query = {r["query"]: r for r in rows}
    assert by_query["cat"]["source"] == "wordnet" and "unigram" in by_query["cat"]["sources"]
    assert by_query["new york"]["source"] == "bigram"
    assert by_query["cat 0"]["source"] == "title" and "cat 1" not in by_query
    assert by_query["hot dog"]["statistic_name"] == "pmi"
    assert [r["id"] for r in rows] == list(range(len(rows)))
    assert rows[0]["source"] == "wordnet"
    assert stats["skips"]["wiki_bad_page"] == 1
    capped, capped_stats = build_queries(_cfg(wordnet_dir, wiki_dump, tmp_path, max_entries=5))
    assert capped == rows[:5] and capped_stats["capped"] == len(rows) - 5
    assert build_queries(_cfg(wordnet_dir, wiki_dump, tmp_path))[0] == rows
    stats_path = write_queries(rows, stats, str(tmp_path / "out" / "queries.parquet"))
    table = pq.read_table(str(tmp_path / "out" / "queries.parquet"))
    assert table.column_names == ["id", "query", "source", "sources", "statistic", "statistic_name"]
    assert os.path.exists(stats_path)


def test_cli_build_compile_match(wordnet_dir, wiki_dump, tmp_path, capsys) -> None:
    out = str(tmp_path / "q.parquet")
    argv = ["queries", "build", "--wordnet", wordnet_dir, "--wikipedia-dump", wiki_dump]
    argv += ["--min-unigram-count", "3", "--min-bigram-count", "3", "--min-pmi", "1.5"]
    assert main([*argv, "--out", out]) == 0
    assert main(["queries", "compile", out, "--out", str(tmp_path / "q.aca")]) == 0
    captions = tmp_path / "captions.txt"
    captions.write_text("A house cat in New York\n\xff\n")
    capsys.readouterr()
    assert main(["queries", "match", str(tmp_path / "q.aca"), str(captions)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert '"house cat"' in first and '"new york"' in first
    assert main(["queries", "stats", out]) == 0
