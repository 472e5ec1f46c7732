"""Each PTransform under Beam's TestPipeline + assert_that."""

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.schema import Record
from pipeline.stages import BalanceByQuery, DedupUrls, FilterText, MatchQueries
from pipeline.text import TextConfig


def _url_reason(r):
    return r.url, r.reason


def _url_caption(r):
    return r.url, r.caption


def test_filter_text_splits_kept_and_rejected():
    records = [
        Record(url="http://a.example/1.jpg", caption="a red&amp;blue circle"),
        Record(url="http://a.example/2.jpg", caption="logo"),
        Record(url="data:image/png;base64,xx", caption="a red circle"),
    ]
    with BeamTestPipeline() as p:
        out = p | beam.Create(records) | FilterText(TextConfig())
        assert_that(
            out.kept | "K" >> beam.Map(_url_caption),
            equal_to([("http://a.example/1.jpg", "a red&blue circle")]),
            label="kept",
        )
        assert_that(
            out.rejected | "R" >> beam.Map(_url_reason),
            equal_to(
                [
                    ("http://a.example/2.jpg", "boilerplate_caption"),
                    ("data:image/png;base64,xx", "data_uri"),
                ]
            ),
            label="rejected",
        )


def test_dedup_urls_keeps_one_deterministically():
    records = [
        Record(url="http://a.example/1.jpg", caption="b caption", source="f#2"),
        Record(url="http://a.example/1.jpg", caption="a caption", source="f#1"),
        Record(url="http://a.example/2.jpg", caption="c caption", source="f#3"),
    ]
    with BeamTestPipeline() as p:
        out = p | beam.Create(records) | DedupUrls()
        assert_that(
            out.kept | "K" >> beam.Map(_url_caption),
            equal_to(
                [("http://a.example/1.jpg", "a caption"), ("http://a.example/2.jpg", "c caption")]
            ),
            label="kept",
        )
        assert_that(
            out.rejected | "R" >> beam.Map(_url_reason),
            equal_to([("http://a.example/1.jpg", "duplicate_url")]),
            label="rej",
        )


def _ids(r):
    return r.caption, r.query_ids, r.queries


def test_match_queries_at_word_boundaries(tmp_path):
    qfile = tmp_path / "q.txt"
    qfile.write_text("cat\nred circle\n")
    records = [
        Record(url="http://a/1", caption="A Cat."),
        Record(url="http://a/2", caption="a red circle and a cat"),
        Record(url="http://a/3", caption="category of concatenated things"),
    ]
    with BeamTestPipeline() as p:
        out = p | beam.Create(records) | MatchQueries(str(qfile))
        assert_that(
            out.kept | "K" >> beam.Map(_ids),
            equal_to(
                [
                    ("A Cat.", (0,), ("cat",)),
                    ("a red circle and a cat", (0, 1), ("cat", "red circle")),
                ]
            ),
            label="kept",
        )
        assert_that(
            out.rejected | "R" >> beam.Map(_url_reason),
            equal_to([("http://a/3", "no_query_match")]),
            label="rej",
        )


def _key(r):
    return r.key


def _expected_kept(records, t, seed):
    """Reference: per query, the t smallest seeded ranks are selected; a sample is kept if any selects it."""
    from pipeline.balance import vote_rank

    kept = set()
    for qid in {q for r in records for q in r.query_ids}:
        members = sorted(
            (vote_rank(seed, qid, r.key), r.key) for r in records if qid in r.query_ids
        )
        kept |= {key for _, key in members[:t]}
    return kept


def test_balance_caps_each_query_exactly_and_deterministically():
    records = [Record(url=f"http://a/{i}", caption="x", query_ids=(0,)) for i in range(50)]
    records += [Record(url=f"http://b/{i}", caption="x", query_ids=(1,)) for i in range(5)]
    records += [Record(url=f"http://c/{i}", caption="x", query_ids=(0, 1)) for i in range(3)]
    expected = _expected_kept(records, 10, 7)
    assert 13 <= len(expected) <= 18  # query 1's 8 all kept, query 0 selects 10 of 53
    with BeamTestPipeline() as p:
        out = p | beam.Create(records) | BalanceByQuery(max_per_query=10, seed=7, method="cap")
        assert_that(out.kept | "K" >> beam.Map(_key), equal_to(sorted(expected)), label="kept")
        rejected = {r.key for r in records} - expected
        assert_that(out.rejected | "R" >> beam.Map(_key), equal_to(sorted(rejected)), label="rej")


def test_balance_metaclip_keeps_tail_queries_whole():
    records = [Record(url=f"http://a/{i}", caption="x", query_ids=(0,)) for i in range(400)]
    records += [Record(url=f"http://b/{i}", caption="x", query_ids=(1,)) for i in range(5)]
    tail = sorted(r.key for r in records[400:])
    with BeamTestPipeline() as p:
        out = p | beam.Create(records) | BalanceByQuery(max_per_query=40, seed=0)
        kept_tail = (
            out.kept | "Tail" >> beam.Filter(lambda r: r.query_ids == (1,)) | "TK" >> beam.Map(_key)
        )
        assert_that(kept_tail, equal_to(tail), label="tail")
        n_head = (
            out.kept
            | "Head" >> beam.Filter(lambda r: r.query_ids == (0,))
            | beam.combiners.Count.Globally()
        )
        assert_that(
            n_head,
            lambda got: 15 <= got[0] <= 70 or (_ for _ in ()).throw(AssertionError(got)),
            label="head",
        )
