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
