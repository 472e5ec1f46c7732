"""Unigram and bigram counting in bounded memory, and the bigram PMI statistic.

    counter = NgramCounter(spill_dir, max_keys=5_000_000)
    for line in lines: counter.add_text(line)
    for term, count in counter.unigrams.items(): ...   # sorted by term, summed over spills

When a counter holds `max_keys` distinct keys it writes them, sorted, to a run file and starts
again; `items()` merges the runs (heapq.merge), so a multi-GB dump needs memory for `max_keys`
keys only. Bigrams are adjacent word tokens not separated by punctuation. PMI is the ratio form
MetaCLIP's threshold of 30 refers to: pmi(a b) = count(a b) * N / (count(a) * count(b)), with N
the number of word tokens.
"""

from __future__ import annotations

import heapq
import itertools
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

from queries.text import tokens

__all__ = ["SpillingCounter", "NgramCounter", "line_ngrams", "pmi", "select_bigrams"]


def line_ngrams(text: str) -> tuple[list[str], list[str]]:
    """(unigrams, bigrams) of `text`: word tokens, and adjacent pairs not split by punctuation."""
    unigrams: list[str] = []
    bigrams: list[str] = []
    prev = ""
    for tok in tokens(text):
        if not any(ch.isalnum() for ch in tok):
            prev = ""
            continue
        unigrams.append(tok)
        if prev:
            bigrams.append(f"{prev} {tok}")
        prev = tok
    return unigrams, bigrams


def pmi(count_ab: int, count_a: int, count_b: int, total: int) -> float:
    """Pointwise mutual information, ratio form: p(a b) / (p(a) p(b))."""
    return count_ab * total / (count_a * count_b)


def _read_run(path: str) -> Iterator[tuple[str, int]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, count = line.rstrip("\n").rpartition("\t")
            yield key, int(count)


class SpillingCounter:
    """A counter that spills sorted runs to disk past `max_keys` distinct keys."""

    def __init__(self, spill_dir: str, name: str, max_keys: int = 5_000_000) -> None:
        self.spill_dir, self.name, self.max_keys = spill_dir, name, max_keys
        self.counts: Counter[str] = Counter()
        self.runs: list[str] = []

    def update(self, keys: Iterable[str]) -> None:
        """Add one occurrence of each of `keys`."""
        self.counts.update(keys)
        if len(self.counts) >= self.max_keys:
            self._spill()

    def _spill(self) -> None:
        os.makedirs(self.spill_dir, exist_ok=True)
        path = os.path.join(self.spill_dir, f"{self.name}-{len(self.runs):05d}.tsv")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(f"{k}\t{v}\n" for k, v in sorted(self.counts.items()))
        self.runs.append(path)
        self.counts = Counter()

    def items(self) -> Iterator[tuple[str, int]]:
        """Every (key, total count), sorted by key."""
        streams = [_read_run(p) for p in self.runs] + [iter(sorted(self.counts.items()))]
        merged = heapq.merge(*streams, key=lambda kv: kv[0])
        for key, group in itertools.groupby(merged, key=lambda kv: kv[0]):
            yield key, sum(count for _, count in group)


class NgramCounter:
    """Unigram and bigram counts of a text stream, spilling to `spill_dir`."""

    def __init__(self, spill_dir: str, max_keys: int = 5_000_000) -> None:
        self.unigrams = SpillingCounter(spill_dir, "unigram", max_keys)
        self.bigrams = SpillingCounter(spill_dir, "bigram", max_keys)
        self.total = 0

    def add_text(self, text: str) -> None:
        """Count the n-grams of a line or a document (bigrams never cross a line break)."""
        for line in text.splitlines():
            unigrams, bigrams = line_ngrams(line)
            self.total += len(unigrams)
            self.unigrams.update(unigrams)
            self.bigrams.update(bigrams)


def select_bigrams(
    bigrams: Iterable[tuple[str, int]],
    unigram_counts: Mapping[str, int],
    total: int,
    min_count: int,
    min_pmi: float,
) -> Iterator[tuple[str, int, float]]:
    """(bigram, count, pmi) for bigrams with count >= min_count and pmi >= min_pmi."""
    for bigram, count in bigrams:
        if count < min_count:
            continue
        a, _, b = bigram.partition(" ")
        score = pmi(count, unigram_counts[a], unigram_counts[b], total)
        if score >= min_pmi:
            yield bigram, count, score
