"""Count Wikipedia n-grams with Beam (`CombinePerKey`), for dumps too big for one machine.

    wit queries count --wikipedia-dump 'enwiki-*-pages-articles*.xml*.bz2' --out counts/ \
        --runner=DataflowRunner ...

Each dump file is read by one worker (use the multi-part `pages-articlesN.xml-p...bz2` files to
spread the work); pages are reshuffled, stripped to text, counted per page, and summed per
n-gram with `CombinePerKey(sum)`. Output, read by `wit queries build --counts DIR`:
`unigrams-*.tsv` (term, count), `bigrams-*.tsv` (term, count, pmi), `titles-*.tsv` (title).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import storage
from queries.ngrams import line_ngrams, pmi
from queries.wikidump import Page, read_pages, strip_wikitext

__all__ = ["NgramJobConfig", "CountNgrams", "ReadArticlesFn", "build_count_pipeline"]

_NAMESPACE = "queries_count"
_TOTAL = ("n", "")


@dataclass(frozen=True)
class NgramJobConfig:
    """Thresholds of the Beam n-gram job (the same defaults as `BuildConfig`)."""

    min_unigram_count: int = 100
    min_bigram_count: int = 100
    min_pmi: float = 30.0


class ReadArticlesFn(beam.DoFn):
    """Dump path -> article pages (namespace 0, not redirects); bad pages counted."""

    def process(self, path: str) -> Iterator[Page]:
        skips: Counter[str] = Counter()
        for page in read_pages(path, skips):
            if page.ns == 0 and not page.redirect:
                yield page
        for reason, n in skips.items():
            Metrics.counter(_NAMESPACE, reason).inc(n)


def page_ngram_counts(page: Page) -> Iterator[tuple[tuple[str, str], int]]:
    """((kind, ngram), count) of one page, kind "u" or "b", plus the ("n", "") token total."""
    counts: Counter[tuple[str, str]] = Counter()
    for line in strip_wikitext(page.text).splitlines():
        unigrams, bigrams = line_ngrams(line)
        counts[_TOTAL] += len(unigrams)
        counts.update(("u", u) for u in unigrams)
        counts.update(("b", b) for b in bigrams)
    yield from counts.items()


def _unigram_row(kv: tuple[tuple[str, str], int]) -> tuple[str, int]:
    return kv[0][1], kv[1]


def _bigram_row(
    kv: tuple[str, int], unigrams: dict[str, int], total: int, min_pmi: float
) -> Iterator[str]:
    bigram, count = kv
    a, _, b = bigram.partition(" ")
    score = pmi(count, unigrams[a], unigrams[b], total)
    if score >= min_pmi:
        yield f"{bigram}\t{count}\t{score:.3f}"


class CountNgrams(beam.PTransform):
    """Dump paths -> (unigram rows, bigram rows, title rows) as tab-separated lines."""

    def __init__(self, cfg: NgramJobConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, paths):  # type: ignore[no-untyped-def]
        cfg = self.cfg
        floor = min(cfg.min_unigram_count, cfg.min_bigram_count)
        pages = paths | "ReadArticles" >> beam.ParDo(ReadArticlesFn()) | beam.Reshuffle()
        counts = (
            pages
            | "PageNgrams" >> beam.FlatMap(page_ngram_counts)
            | "CountPerNgram" >> beam.CombinePerKey(sum)
        )
        total = counts | "Total" >> beam.Filter(lambda kv: kv[0] == _TOTAL) | beam.Values()
        unigrams = counts | "Unigrams" >> beam.Filter(lambda kv: kv[0][0] == "u" and kv[1] >= floor)
        frequent = unigrams | "UnigramRow" >> beam.Map(_unigram_row)
        bigrams = (
            counts
            | "Bigrams" >> beam.Filter(lambda kv: kv[0][0] == "b" and kv[1] >= cfg.min_bigram_count)
            | "BigramPair" >> beam.Map(_unigram_row)
            | "Pmi"
            >> beam.FlatMap(
                _bigram_row,
                beam.pvalue.AsDict(frequent),
                beam.pvalue.AsSingleton(total, default_value=0),
                cfg.min_pmi,
            )
        )
        unigram_rows = (
            frequent
            | "KeepUnigrams" >> beam.Filter(lambda kv: kv[1] >= cfg.min_unigram_count)
            | "UnigramTsv" >> beam.MapTuple(lambda term, n: f"{term}\t{n}")
        )
        titles = pages | "Titles" >> beam.Map(lambda page: page.title)
        return unigram_rows, bigrams, titles


def build_count_pipeline(p: beam.Pipeline, dumps: list[str], out: str, cfg: NgramJobConfig):  # type: ignore[no-untyped-def]
    """Add the counting job reading `dumps` and writing tables under `out` to `p`."""
    unigrams, bigrams, titles = (
        p | "Dumps" >> beam.Create(sorted(dumps)) | "Count" >> CountNgrams(cfg)
    )
    for name, rows in (("unigrams", unigrams), ("bigrams", bigrams), ("titles", titles)):
        rows | f"Write{name.title()}" >> beam.io.WriteToText(
            storage.join(out, name), file_name_suffix=".tsv"
        )
