"""The Beam embedding job on the DirectRunner: vectors beside the shards equal single-process ones."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dedup.descriptor import decode
from dedup.embed import ClassicalEmbedder
from dedup.embed_job import iter_vector_blocks, run_embed_job
from dedup.wds import iter_tar, write_tar


@pytest.fixture(scope="module")
def job(world: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    shards = tmp_path_factory.mktemp("embshards")
    for tar in sorted(world["shards"].glob("*.tar")):
        write_tar(str(shards / tar.name), iter_tar(str(tar)))
    bad = [("00000000000000ff", {"jpg": b"not a jpeg", "txt": b"broken"})]
    write_tar(str(shards / "00002.tar"), bad)
    out = tmp_path_factory.mktemp("vectors")
    stats = run_embed_job(str(shards), str(out), ["--runner=DirectRunner"])
    return {"shards": shards, "out": out, "stats": stats}


def test_vectors_equal_the_single_process_ones(job: dict) -> None:
    emb = ClassicalEmbedder()
    for tar in sorted(job["shards"].glob("0000[01].tar")):
        samples = list(iter_tar(str(tar)))
        meta = json.loads((job["out"] / tar.name.replace(".tar", ".emb.json")).read_text())
        vecs = np.load(job["out"] / tar.name.replace(".tar", ".emb.npy"))
        assert meta["keys"] == [k for k, _ in samples] and vecs.dtype == np.float16
        want = emb.embed([decode(m["jpg"], 128) for _, m in samples])
        assert np.abs(vecs.astype(np.float32) - want).max() < 2e-3  # float16 storage


def test_a_corrupt_image_is_a_recorded_zero_row(job: dict) -> None:
    meta = json.loads((job["out"] / "00002.emb.json").read_text())
    assert list(meta["failed"]) == ["00000000000000ff"]
    assert meta["failed"]["00000000000000ff"].startswith("decode_error")
    assert not np.load(job["out"] / "00002.emb.npy").any()
    counts = [json.loads(line) for p in job["out"].glob("embed_stats*") for line in p.open()]
    assert sum(c["count"] for c in counts) == 49 and sum(c["failed"] for c in counts) == 1


def test_blocks_stream_every_row_once(job: dict) -> None:
    blocks = list(iter_vector_blocks(str(job["out"]), block=10))
    assert max(len(k) for k, _ in blocks) == 10
    keys = [k for ks, _ in blocks for k in ks]
    assert len(keys) == len(set(keys)) == 49


def test_no_shards_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="no shards"):
        run_embed_job(str(tmp_path), str(tmp_path / "v"))


def test_search_streams_the_files_and_finds_the_planted_copies(job: dict, world: dict) -> None:
    from dedup.embed import EmbedConfig
    from dedup.embed_job import range_over_files
    from dedup.index import IndexConfig
    from dedup.matcher import EvalIndex

    ids = [f"e{i:02d}" for i in range(len(world["evals"]))]
    index = EvalIndex.build(ids, world["evals"], ClassicalEmbedder(), EmbedConfig(), IndexConfig())
    found = {
        (key, ids[e]) for key, e, sim in range_over_files(index, str(job["out"]), 0.5, block=7)
    }
    assert set(world["planted"].items()) <= found
    assert all(key in world["planted"] for key, _ in found)  # distinct scenes stay below 0.5
