"""Embedding at scale: a Beam job that writes descriptor vectors beside the shards.

For every shard `NNNNN.tar` it writes `NNNNN.emb.npy` (float16, one row per sample, in the
order of the tar and of `NNNNN.parquet`) and `NNNNN.emb.json` (keys, descriptor, dimension,
and the samples whose image did not decode, with a reason; their rows are zero and never
reach a threshold). The search (`iter_vector_blocks`) then streams those files block by
block, on one GPU machine or on many CPU workers, without loading them all.

    python -m dedup.embed_job --shards out/shards --out out/vectors --runner DataflowRunner ...
    wit dedup-embed --shards out/shards --out out/vectors          # DirectRunner

The same `EmbedShards` transform runs as an optional stage at the end of the build.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from dedup.descriptor import decode
from dedup.embed import ClassicalEmbedder
from dedup.wds import IMAGE_MEMBERS, iter_tar, shard_paths
from pipeline import storage

__all__ = [
    "embed_shard",
    "EmbedShards",
    "iter_vector_blocks",
    "run_embed_job",
    "range_over_files",
    "main",
]


def _vectors_name(shard: str, ext: str) -> str:
    base = shard.rsplit("/", 1)[-1]
    return base[: -len(".tar")] + f".emb.{ext}"


def embed_shard(path: str, out: str, embedder=None, batch: int = 256) -> dict:  # type: ignore[no-untyped-def]
    """Embed one shard's images into OUT/NNNNN.emb.npy + .emb.json; returns the sidecar."""
    embedder = embedder or ClassicalEmbedder()
    keys, images, failed = [], [], {}
    for key, members in iter_tar(path):
        data = next((members[e] for e in IMAGE_MEMBERS if e in members), b"")
        keys.append(key)
        try:
            images.append(decode(data, 128))
        except Exception as e:  # noqa: BLE001 - any decode failure is a recorded zero row
            images.append(None)
            failed[key] = f"decode_error: {type(e).__name__}"
    ok = [im for im in images if im is not None]
    vecs = [embedder.embed(ok[i : i + batch]) for i in range(0, len(ok), batch)]
    dense = np.concatenate(vecs) if vecs else np.zeros((0, 0), np.float32)
    dim = dense.shape[1] if len(dense) else 0
    out_rows = np.zeros((len(keys), dim), np.float16)
    out_rows[[i for i, im in enumerate(images) if im is not None]] = dense.astype(np.float16)
    buf = io.BytesIO()
    np.save(buf, out_rows)
    storage.write_bytes(storage.join(out, _vectors_name(path, "npy")), buf.getvalue())
    meta = {"shard": path.rsplit("/", 1)[-1], "descriptor": embedder.name, "dim": dim,
            "count": len(keys), "keys": keys, "failed": failed}  # fmt: skip
    storage.write_bytes(storage.join(out, _vectors_name(path, "json")), json.dumps(meta).encode())
    return {k: meta[k] for k in ("shard", "count", "dim")} | {"failed": len(failed)}


class _EmbedShardFn(beam.DoFn):
    """One shard in, its vector files out; the embedder opens once per worker."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.embedder = None
        self.embedded = Metrics.counter("dedup", "embedded")
        self.failed = Metrics.counter("dedup", "corrupt_image")

    def setup(self) -> None:
        """Open the embedder."""
        self.embedder = ClassicalEmbedder()

    def process(self, path: str) -> Iterator[dict]:
        """Embed one shard (idempotent: a rerun rewrites the same bytes)."""
        stats = embed_shard(path, self.out, self.embedder)
        self.embedded.inc(stats["count"] - stats["failed"])
        self.failed.inc(stats["failed"])
        yield stats


class EmbedShards(beam.PTransform):
    """Shard tar paths -> per-shard vector files under `out`; outputs per-shard stats."""

    def __init__(self, out: str) -> None:
        super().__init__()
        self.out = out

    def expand(self, paths):  # type: ignore[no-untyped-def]
        return (
            paths
            | "SpreadShards" >> beam.Reshuffle()
            | "EmbedShard" >> beam.ParDo(_EmbedShardFn(self.out))
        )


def run_embed_job(shards: str, out: str, beam_args: list[str] | None = None) -> list[dict]:
    """Run the embedding job over existing shards; returns the per-shard stats."""
    from apache_beam.options.pipeline_options import PipelineOptions

    paths = shard_paths(shards)
    if not paths:
        raise ValueError(f"no shards (*.tar) found at {shards}")
    with beam.Pipeline(options=PipelineOptions(beam_args or [])) as p:
        _ = (
            p
            | "ShardPaths" >> beam.Create(sorted(paths))
            | "Embed" >> EmbedShards(out)
            | "Stats" >> beam.Map(json.dumps)
            | "WriteStats" >> beam.io.WriteToText(storage.join(out, "embed_stats"), ".jsonl")
        )
    return [
        json.loads(storage.read_bytes(storage.join(out, _vectors_name(s, "json")))) for s in paths
    ]


def iter_vector_blocks(out: str, block: int = 65_536) -> Iterator[tuple[list[str], np.ndarray]]:
    """(keys, float16 vectors) in blocks of at most `block` rows, shard by shard, streamed."""
    for meta_path in sorted(storage.glob(storage.join(out, "*.emb.json"))):
        meta = json.loads(storage.read_bytes(meta_path))
        vecs = np.load(io.BytesIO(storage.read_bytes(meta_path[: -len("json")] + "npy")))
        for i in range(0, len(vecs), block):
            yield meta["keys"][i : i + block], vecs[i : i + block]


def _eval_matrix(index) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The indexed (whitened) eval view vectors of an `EvalIndex`."""
    backend = index.index.backend
    if hasattr(backend, "base"):  # the torch CUDA flat index
        return backend.base.float().cpu().numpy()
    return np.asarray(backend.reconstruct_n(0, index.index.n))


def range_over_files(index, out: str, threshold: float, device: str = "cpu", block: int = 65_536):  # type: ignore[no-untyped-def]
    """(train key, eval row, similarity) for every pair >= threshold, streamed from OUT's files.

    Similarity is the max over the eval image's views, as in `EvalIndex.match`; zero rows
    (images that did not decode) are skipped.
    """
    from dedup.range_search import TorchRange

    rs = TorchRange(_eval_matrix(index), device=device)
    for keys, vecs in iter_vector_blocks(out, block):
        live = np.flatnonzero(np.abs(vecs).sum(axis=1) > 0)
        pairs = rs.search([index.project(vecs[live].astype(np.float32))], threshold)
        best: dict[tuple[str, int], float] = {}
        for t, e, sim in zip(pairs.train, pairs.eval, pairs.sim, strict=True):
            k = (keys[live[t]], int(index.owner[e]))
            best[k] = max(best.get(k, -1.0), float(sim))
        yield from ((key, ev, sim) for (key, ev), sim in sorted(best.items()))


def main(argv: list[str] | None = None) -> None:
    """`python -m dedup.embed_job --shards DIR --out DIR [Beam options]`."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--shards", required=True, help="shard folder, tar or glob")
    ap.add_argument("--out", required=True, help="where the vector files go")
    args, beam_args = ap.parse_known_args(argv)
    stats = run_embed_job(args.shards, args.out, beam_args)
    print(f"embedded {sum(s['count'] for s in stats)} samples of {len(stats)} shards -> {args.out}")


if __name__ == "__main__":
    main()
