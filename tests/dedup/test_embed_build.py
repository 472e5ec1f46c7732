"""`--embed_vectors`: the build writes dedup vectors beside its shards, keys aligned with them."""

from __future__ import annotations

import glob
import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from dedup.descriptor import decode
from dedup.embed import ClassicalEmbedder
from dedup.wds import iter_tar
from pipeline.build import run

pytestmark = pytest.mark.slow


def test_build_stage_writes_aligned_vectors(small_web: str, web_server, tmp_path) -> None:
    out = str(tmp_path / "out")
    args = [
        f"--input={small_web}/crawl/*.wat.gz",
        f"--queries={small_web}/queries.txt",
        f"--output={out}",
        "--samples_per_shard=16",
        "--allowed_networks=127.0.0.0/8",
        f"--resolve={web_server.resolve_spec()}",
        "--max_per_query=1000",
        "--embed_vectors=true",
    ]
    run(args)
    tars = sorted(glob.glob(f"{out}/shards/*.tar"))
    assert tars and len(glob.glob(f"{out}/vectors/*.emb.npy")) == len(tars)
    emb = ClassicalEmbedder()
    for tar in tars:
        name = os.path.basename(tar)[: -len(".tar")]
        meta = json.loads(open(f"{out}/vectors/{name}.emb.json").read())
        keys = pq.read_table(f"{out}/shards/{name}.parquet").column("key").to_pylist()
        assert meta["keys"] == keys and not meta["failed"]
        want = emb.embed([decode(m["jpg"], 128) for _, m in iter_tar(tar)])
        got = np.load(f"{out}/vectors/{name}.emb.npy").astype(np.float32)
        assert np.abs(got - want).max() < 2e-3
