"""Build the query list (CLIP's 500k queries) from WordNet, Wikipedia, corpora and tables.

    rows, stats = build_queries(BuildConfig(wordnet_dir="/usr/share/wordnet", ...))
    write_queries(rows, stats, "queries.parquet")   # + queries.stats.json

Candidates come from each source that is given; a query is kept in its normalised form
(NFKC, case-folded, whitespace collapsed) and deduplicated on its match form. Ranking, used to
cap the list at `max_entries`: by source tier (WordNet, Wikipedia unigrams, bigrams, titles,
tables: CLIP's order of construction), then by the source's statistic (synset count, count,
PMI, page views, count) descending, then by the query string. Ids are ranks, so the list and its
ids are a deterministic function of the inputs and options.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline import bars, storage
from queries.ngrams import NgramCounter, select_bigrams
from queries.sources import read_pageviews, read_term_table, read_text_lines, read_wordnet
from queries.text import match_form, normalize_text
from queries.wikidump import read_pages, strip_wikitext

__all__ = ["BuildConfig", "CandidatePool", "SOURCES", "build_queries", "write_queries"]

# Source -> (tier, name of its statistic). Lower tiers rank first.
SOURCES: dict[str, tuple[int, str]] = {
    "wordnet": (0, "synsets"),
    "unigram": (1, "count"),
    "bigram": (2, "pmi"),
    "title": (3, "pageviews"),
    "table": (4, "count"),
}


@dataclass(frozen=True)
class BuildConfig:
    """Inputs and thresholds of `wit queries build` (defaults: CLIP / MetaCLIP)."""

    wordnet_dir: str | None = None
    wikipedia_dumps: tuple[str, ...] = ()
    pageviews: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    counts_dirs: tuple[str, ...] = ()  # outputs of the Beam job `wit queries count`
    wiki: str = "en"
    min_unigram_count: int = 100
    min_bigram_count: int = 100
    min_pmi: float = 30.0
    min_title_views: int = 70
    min_table_count: int = 100
    max_entries: int = 500_000
    max_query_chars: int = 256
    spill_keys: int = 5_000_000


@dataclass
class CandidatePool:
    """Candidate queries keyed by match form, with every source that proposed them."""

    max_chars: int = 256
    entries: dict[str, tuple[str, dict[str, float]]] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)

    def add(self, query: str, source: str, statistic: float) -> None:
        """Propose `query` from `source` with its statistic (the best one per source wins)."""
        norm = normalize_text(query)
        if not any(ch.isalnum() for ch in norm):
            self.rejected["no_word_character"] += 1
            return
        if len(norm) > self.max_chars:
            self.rejected["too_long"] += 1
            return
        key = match_form(norm)
        display, sources = self.entries.setdefault(key, (norm, {}))
        sources[source] = max(statistic, sources.get(source, statistic))

    def ranked(self) -> list[tuple[str, str, dict[str, float]]]:
        """(query, primary source, sources) sorted by the documented ranking."""
        rows = []
        for display, sources in self.entries.values():
            primary = min(sources, key=lambda s: SOURCES[s][0])
            rows.append((SOURCES[primary][0], -sources[primary], display, primary, sources))
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        return [(display, primary, sources) for _, _, display, primary, sources in rows]


def _corpus_texts(cfg: BuildConfig, titles: set[str], skips: Counter[str]) -> Iterator[str]:
    for path in cfg.texts:
        yield from read_text_lines(path)
    for path in cfg.wikipedia_dumps:
        for page in read_pages(path, skips):
            if page.ns != 0 or page.redirect:
                continue
            titles.add(page.title)
            skips["wiki_articles"] += 1
            yield strip_wikitext(page.text)


def _add_ngrams(cfg: BuildConfig, pool: CandidatePool, stats: dict[str, Any]) -> set[str]:
    titles: set[str] = set()
    if not (cfg.texts or cfg.wikipedia_dumps):
        return titles
    with tempfile.TemporaryDirectory(prefix="wit-ngrams-") as spill:
        counter = NgramCounter(spill, cfg.spill_keys)
        with bars.bar("corpus texts counted", unit="text") as progress:
            for text in _corpus_texts(cfg, titles, stats["skips"]):
                counter.add_text(text)
                progress.update(1)
        floor = min(cfg.min_unigram_count, cfg.min_bigram_count)
        frequent: dict[str, int] = {}
        for term, count in counter.unigrams.items():
            if count >= floor:
                frequent[term] = count
            if count >= cfg.min_unigram_count:
                pool.add(term, "unigram", count)
        bigrams = select_bigrams(
            counter.bigrams.items(), frequent, counter.total, cfg.min_bigram_count, cfg.min_pmi
        )
        for bigram, _, score in bigrams:
            pool.add(bigram, "bigram", round(score, 3))
        stats["tokens"] = counter.total
        stats["spill_runs"] = len(counter.unigrams.runs) + len(counter.bigrams.runs)
    return titles


def _add_counts(cfg: BuildConfig, pool: CandidatePool, titles: set[str], skips: Counter[str]):  # type: ignore[no-untyped-def]
    for directory in cfg.counts_dirs:
        for path in storage.glob(storage.join(directory, "unigrams-*.tsv")):
            for term, count in read_term_table(path, skips):
                if count >= cfg.min_unigram_count:
                    pool.add(term, "unigram", count)
        for path in storage.glob(storage.join(directory, "bigrams-*.tsv")):
            for line in read_text_lines(path):
                try:
                    term, count, score = line.rstrip("\n").split("\t")
                    if int(count) >= cfg.min_bigram_count and float(score) >= cfg.min_pmi:
                        pool.add(term, "bigram", float(score))
                except ValueError:
                    skips["counts_bad_line"] += 1
        for path in storage.glob(storage.join(directory, "titles-*.tsv")):
            titles.update(line.rstrip("\n") for line in read_text_lines(path) if line.strip())


def _add_titles(cfg: BuildConfig, titles: set[str], pool: CandidatePool, skips: Counter[str]):  # type: ignore[no-untyped-def]
    views = read_pageviews(list(cfg.pageviews), cfg.wiki, skips) if cfg.pageviews else None
    for title in sorted(titles):
        seen = views.get(title, 0) if views is not None else 0
        if views is None or seen >= cfg.min_title_views:
            pool.add(title, "title", seen)


def build_queries(cfg: BuildConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ranked, capped query rows and a stats summary."""
    started = time.time()
    skips: Counter[str] = Counter()
    stats: dict[str, Any] = {"skips": skips, "config": asdict(cfg)}
    pool = CandidatePool(cfg.max_query_chars)
    if cfg.wordnet_dir:
        for lemma, synsets in sorted(read_wordnet(cfg.wordnet_dir, skips).items()):
            pool.add(lemma, "wordnet", synsets)
    titles = _add_ngrams(cfg, pool, stats)
    _add_counts(cfg, pool, titles, skips)
    _add_titles(cfg, titles, pool, skips)
    for path in cfg.tables:
        for term, count in read_term_table(path, skips):
            if count >= cfg.min_table_count:
                pool.add(term, "table", count)
    ranked = pool.ranked()
    rows = [
        _row(i, q, primary, srcs) for i, (q, primary, srcs) in enumerate(ranked[: cfg.max_entries])
    ]
    stats.update(_summary(ranked, rows, pool, time.time() - started))
    return rows, stats


def _row(qid: int, query: str, primary: str, sources: dict[str, float]) -> dict[str, Any]:
    return {
        "id": qid,
        "query": query,
        "source": primary,
        "sources": sorted(sources, key=lambda s: SOURCES[s][0]),
        "statistic": float(sources[primary]),
        "statistic_name": SOURCES[primary][1],
    }


def _summary(ranked: list, rows: list, pool: CandidatePool, seconds: float) -> dict[str, Any]:  # type: ignore[type-arg]
    per_source = {
        name: {
            "candidates": sum(1 for _, _, s in ranked if name in s),
            "kept_primary": sum(1 for r in rows if r["source"] == name),
            "kept_any": sum(1 for r in rows if name in r["sources"]),
        }
        for name in SOURCES
    }
    return {
        "candidates": len(ranked),
        "entries": len(rows),
        "capped": len(ranked) - len(rows),
        "sources": per_source,
        "rejected_candidates": dict(pool.rejected),
        "seconds": round(seconds, 2),
    }


def write_queries(rows: list[dict[str, Any]], stats: dict[str, Any], path: str) -> str:
    """Write `queries.parquet` and, beside it, `<stem>.stats.json`; return the stats path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=_SCHEMA()), buf)
    storage.write_bytes(path, buf.getvalue())
    stats_path = path.removesuffix(".parquet") + ".stats.json"
    storage.write_bytes(stats_path, json.dumps(stats, indent=2, sort_keys=True).encode())
    return stats_path


def _SCHEMA():  # type: ignore[no-untyped-def]  # noqa: N802
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.int64()),
            ("query", pa.string()),
            ("source", pa.string()),
            ("sources", pa.list_(pa.string())),
            ("statistic", pa.float64()),
            ("statistic_name", pa.string()),
        ]
    )
