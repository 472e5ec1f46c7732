"""Two documented outputs of a build: `query_counts.parquet` and `--dedup_images false`.

One real build of the small sample web (an exact cap of 3 selections per query, duplicate
images kept), checked against the shards it wrote; DedupImages under TestPipeline both ways.
"""

from __future__ import annotations

import glob
import json
import os
from collections import Counter

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.build import run
from pipeline.download import DedupImages
from pipeline.schema import Reason, Record

CAP = 3


@pytest.fixture(scope="module")
def build(small_web, web_server, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("counts") / "out")
    summary = run(
        [
            f"--input={small_web}/crawl/*.wat.gz",
            f"--queries={small_web}/queries.txt",
            f"--output={out}",
            "--samples_per_shard=16",
            "--allowed_networks=127.0.0.0/8",
            f"--resolve={web_server.resolve_spec()}",
            "--balance=cap",
            f"--max_per_query={CAP}",
            "--dedup_images=false",
        ]
    )
    return out, summary, small_web


def _shard_rows(out: str) -> list[dict]:
    return [row for p in sorted(glob.glob(f"{out}/shards/*.parquet")) for row in
            pq.read_table(p).to_pylist()]  # fmt: skip


def test_query_counts_agree_with_the_shards(build):
    out, summary, web = build
    rows = pq.read_table(f"{out}/query_counts.parquet").to_pylist()
    assert rows and [r["query_id"] for r in rows] == sorted({r["query_id"] for r in rows})
    lines = [line.strip() for line in open(f"{web}/queries.txt", encoding="utf-8")]
    names = [line for line in lines if line and not line.startswith("#")]
    in_shards = Counter(q for row in _shard_rows(out) for q in set(row["query_ids"]))
    for row in rows:
        qid = row["query_id"]
        assert row["query"] == names[qid], row
        assert row["matched"] >= row["balanced"] >= row["in_shards"], row
        assert row["in_shards"] == in_shards.get(qid, 0), row  # counted from the shards
    assert set(in_shards) <= {r["query_id"] for r in rows}
    assert sum(r["matched"] for r in rows) > sum(r["balanced"] for r in rows)  # cap 3 bites
    manifest = json.load(open(f"{out}/manifest.json"))
    table = next(t for t in manifest["tables"] if t["file"] == "query_counts.parquet")
    assert table["count"] == len(rows)
    assert table["bytes"] == os.path.getsize(f"{out}/query_counts.parquet")
    assert summary["kept"] == len(_shard_rows(out))


def _records() -> list[Record]:
    same = [Record(url=f"http://d.test/{i}.jpg", caption="c", sha256="aa" * 32) for i in range(3)]
    return same + [Record(url="http://d.test/x.jpg", caption="c", sha256="bb" * 32)]


def _url(record: Record) -> str:
    return record.url


def _url_reason(record: Record) -> tuple[str, str]:
    return record.url, record.reason


@pytest.mark.parametrize("enabled", [True, False])
def test_dedup_images_flag(enabled):
    records = _records()
    first = min(records[:3], key=lambda r: r.key).url  # the kept copy is chosen by key
    kept = [first, records[3].url] if enabled else [r.url for r in records]
    dropped = [(r.url, Reason.DUPLICATE_IMAGE) for r in records[:3] if r.url != first]
    with BeamTestPipeline() as p:
        out = p | beam.Create(records) | DedupImages(enabled)
        assert_that(out.kept | "K" >> beam.Map(_url), equal_to(kept), label="kept")
        assert_that(
            out.rejected | "R" >> beam.Map(_url_reason),
            equal_to(dropped if enabled else []),
            label="rejected",
        )


def test_dedup_images_false_keeps_duplicate_images(build):
    out, summary, _ = build
    assert "dedup_image" not in summary["drops"]  # the stage let everything through
    shas = Counter(row["sha256"] for row in _shard_rows(out))
    assert max(shas.values()) > 1  # the sample web's duplicate images are all in the shards
