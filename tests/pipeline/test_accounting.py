import io

import pyarrow.parquet as pq

from pipeline.accounting import format_summary, rejects_parquet, summarize
from pipeline.schema import Record, reject


def test_summary_adds_up():
    drops = [(("filter_text", "empty_caption"), 3), (("download", "http_error"), 2)]
    s = summarize(10, [{"count": 4}, {"count": 1}], drops)
    assert s["kept"] == 5 and s["dropped"] == 5 and s["balanced"]
    assert s["drops"] == {"download": {"http_error": 2}, "filter_text": {"empty_caption": 3}}
    assert not summarize(11, [{"count": 5}], drops)["balanced"]
    assert "adds up" in format_summary(s)


def test_rejects_parquet_sorted_and_complete():
    rows = [
        reject(Record(url=f"http://a/{i}", caption="c"), "download", "timeout") for i in range(3)
    ]
    rows.append(reject(Record(url="http://b", caption="c"), "filter_text", "empty_caption"))
    data = rejects_parquet(reversed(rows))
    assert data == rejects_parquet(rows)
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == 4 and table.column("stage").to_pylist()[0] == "download"


def test_query_count_rows():
    from pipeline.accounting import query_count_rows

    rows = query_count_rows(
        {1: {"matched": 5, "balanced": 3}, 0: {"matched": 2, "balanced": 2, "in_shards": 2}},
        ["red", "circle"],
    )
    assert rows == [
        {"query_id": 0, "query": "red", "matched": 2, "balanced": 2, "in_shards": 2},
        {"query_id": 1, "query": "circle", "matched": 5, "balanced": 3, "in_shards": 0},
    ]


def test_reject_details_are_stable_across_runs():
    from pipeline.schema import stable_detail

    a = "UnidentifiedImageError: cannot identify image file <_io.BytesIO object at 0x7fa2b1c3d4e0>"
    b = "UnidentifiedImageError: cannot identify image file <_io.BytesIO object at 0x7f00aa11bb22>"
    assert (
        stable_detail(a)
        == stable_detail(b)
        == "UnidentifiedImageError: cannot identify image file <_io.BytesIO object>"
    )
    timeout = "HTTPConnectionPool(host='127.0.0.1', port=41234): Read timed out. (read timeout=1)"
    assert stable_detail(timeout) == "HTTPConnectionPool: Read timed out. (read timeout=1)"
