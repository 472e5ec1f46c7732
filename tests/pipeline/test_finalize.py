"""Finalize's clean-up: shards of an earlier, larger run and killed writers' temp files go away.

Real shards written by `write_shard` into a folder that also holds what a previous run left
behind; `Finalize` runs under Beam's TestPipeline and must leave exactly this build's files.
"""

from __future__ import annotations

import glob
import json
import os

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline

from pipeline.accounting import Finalize
from pipeline.schema import Record
from pipeline.shards import write_shard


def _records(shard: int, n: int) -> list[Record]:
    records = [Record(url=f"http://f.test/{shard}/{i}", caption=f"c{i}") for i in range(n)]
    return sorted(records, key=lambda r: r.key)


def _files(out: str) -> dict[str, bytes]:
    paths = glob.glob(f"{out}/**/*", recursive=True) + glob.glob(f"{out}/**/.*", recursive=True)
    return {os.path.relpath(p, out): open(p, "rb").read() for p in paths if os.path.isfile(p)}


def _finalize(out: str, shards: list[dict], input_count: int, drops: list) -> None:
    with BeamTestPipeline() as p:
        inputs = {
            "input_count": p | "N" >> beam.Create([input_count]),
            "shards": p | "S" >> beam.Create(shards),
            "rejects": p | "R" >> beam.Create([]),
            "drops": p | "D" >> beam.Create(drops),
            "tables": p | "T" >> beam.Create([]),
        }
        inputs | Finalize(out, {"seed": 0})


def test_finalize_removes_what_an_earlier_run_left(tmp_path):
    out = str(tmp_path / "out")
    shards_dir = f"{out}/shards"
    for index, n in ((0, 3), (1, 2), (2, 4), (11, 1)):  # a previous run wrote 4 shards
        write_shard(shards_dir, index, _records(index, n))
    stats = [write_shard(shards_dir, i, _records(i, n))[0] for i, n in ((0, 3), (1, 2))]
    os.makedirs(f"{out}/rejects")
    for leftover in (f"{shards_dir}/.tmp-00003.tar.x1", f"{out}/rejects/.tmp-rejects.parquet"):
        with open(leftover, "wb") as f:  # what killed writers leave
            f.write(b"partial")
    before = _files(out)

    _finalize(out, stats, input_count=9, drops=[(("download", "http_404"), 4)])

    after = _files(out)
    kept = {f"shards/{n}" for i in ("00000", "00001") for n in (f"{i}.tar", f"{i}.parquet")}
    kept |= {"shards/00000_stats.json", "shards/00001_stats.json"}
    for name in kept:
        assert after[name] == before[name], name  # this build's shards are left untouched
    new = {"shards/sizes.json", "summary.json", "manifest.json"}
    assert set(after) == kept | new  # strays (00002, 00011) and temp files are gone
    assert json.loads(after["shards/sizes.json"]) == {"00000.tar": 3, "00001.tar": 2}
    manifest = json.loads(after["manifest.json"])
    assert [s["shard"] for s in manifest["shards"]] == ["00000.tar", "00001.tar"]
    assert manifest["summary"] == json.loads(after["summary.json"])
    assert manifest["summary"]["kept"] == 5 and manifest["summary"]["dropped"] == 4
    assert manifest["summary"]["balanced"] and manifest["config"] == {"seed": 0}
