"""The overlap analysis: training shards against named eval sets, written for auditors.

`run_dedup(cfg)` embeds every eval set (several views each), picks each set's threshold
(given, or calibrated on synthetic copies), streams the training shards through the same
embedder, searches every eval index, and writes to `cfg.out`:

- `overlap.parquet`: train key, shard, eval set, eval id, similarity, rank, duplicate flag
  (every match within `margin` of the threshold, so near misses stay visible)
- `eval_images.parquet`: one row per eval image with its overlap flag (All/Overlap/Clean)
- `summary.json` / `summary.parquet`: per eval set counts, overlap %, threshold, descriptor
- `exclusion/keys.txt` (one key per line) and `exclusion/exclusion.parquet` for the trainer
  and `wit filter`
- `report.html` with histograms (`dedup.report`)
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from dedup.calibrate import Calibration, CalibrationConfig, calibrate
from dedup.descriptor import decode
from dedup.embed import EmbedConfig, Embedder, make_embedder
from dedup.evalsets import read_eval_set
from dedup.index import IndexConfig
from dedup.matcher import EvalIndex, embed_in_batches
from dedup.wds import TrainImage, iter_train_images, shard_paths
from pipeline import storage
from pipeline.imaging import thumbnail_jpeg
from pipeline.usage import UsageError

__all__ = ["DedupConfig", "run_dedup", "calibrate_sets", "CLASSICAL_FLOOR"]

# The classical descriptor's lowest sensible threshold (bench/dedup.py: distinct ImageNet
# photos stay below it); calibration on a tiny eval set never goes under it.
CLASSICAL_FLOOR = 0.5


@dataclass(frozen=True)
class DedupConfig:
    """Everything `wit dedup` needs, parsed from the command line."""

    shards: tuple[str, ...]
    evals: tuple[tuple[str, str], ...]
    out: str
    embed: EmbedConfig = EmbedConfig()
    index: IndexConfig = IndexConfig()
    thresholds: tuple[tuple[str, float], ...] = ()
    calibration: CalibrationConfig = CalibrationConfig(floor=CLASSICAL_FLOOR)
    k: int = 5
    margin: float = 0.1
    background: int = 2000
    max_thumbs: int = 400


@dataclass
class _EvalSet:
    """An eval set during a run: its index, threshold and what matched it."""

    name: str
    path: str
    labels: list[str]
    thumbs: list[bytes]
    index: EvalIndex
    threshold: float
    source: str
    calibration: Calibration | None = None
    rows: list[dict] = field(default_factory=list)
    train_thumbs: dict[str, bytes] = field(default_factory=dict)
    top1: list[float] = field(default_factory=list)


def _load_set(
    name: str, path: str, embedder: Embedder, cfg: DedupConfig, bg: np.ndarray
) -> _EvalSet:
    items = list(read_eval_set(name, path))
    if not items:
        raise UsageError(f"eval set {name!r}: no images found at {path}")
    images = [decode(it.data, 256) for it in items]
    ids = [it.eval_id for it in items]
    index = EvalIndex.build(ids, images, embedder, cfg.embed, cfg.index, bg)
    given = dict(cfg.thresholds)
    floor = cfg.calibration.floor if cfg.embed.kind == "classical" else 0.0
    if name in given:
        thr, source, cal = given[name], "given", None
    else:
        cal = calibrate(
            index,
            images,
            embedder,
            CalibrationConfig(
                cfg.calibration.precision, cfg.calibration.max_images, cfg.calibration.names, floor
            ),
        )
        thr, source = cal.threshold, "calibrated"
    thumbs = [thumbnail_jpeg(im) for im in images]
    return _EvalSet(name, path, [it.label for it in items], thumbs, index, thr, source, cal)


def _batches(items: Iterator[TrainImage], n: int) -> Iterator[list[TrainImage]]:
    while batch := list(islice(items, n)):
        yield batch


def _match_batch(
    s: _EvalSet,
    batch: list[TrainImage],
    images: list[Image.Image],
    raw: np.ndarray,
    cfg: DedupConfig,
) -> None:
    """Append the rows of one training batch against one eval set."""
    sims, idx = s.index.match(s.index.project(raw), cfg.k)
    s.top1.extend(float(v) for v in sims[:, 0] if np.isfinite(v))
    keep = (idx >= 0) & (sims >= s.threshold - cfg.margin)
    for q, r in zip(*np.nonzero(keep), strict=True):
        t = batch[q]
        sim = float(sims[q, r])
        s.rows.append(
            {
                "key": t.key,
                "shard": t.shard,
                "eval_set": s.name,
                "eval_id": s.index.ids[idx[q, r]],
                "similarity": round(sim, 6),
                "rank": int(r) + 1,
                "duplicate": sim >= s.threshold,
                "threshold": s.threshold,
                "caption": t.caption,
                "url": t.url,
            }
        )
        if t.key not in s.train_thumbs and len(s.train_thumbs) < cfg.max_thumbs:
            s.train_thumbs[t.key] = thumbnail_jpeg(images[q])


def _scan(
    sets: list[_EvalSet], stream: Iterator[TrainImage], embedder: Embedder, cfg: DedupConfig
) -> int:
    """Stream training images through every eval index; returns how many were scanned."""
    n = 0
    for batch in _batches(stream, cfg.embed.batch_size * 4):
        images = [decode(t.data, 128) for t in batch]
        raw = embed_in_batches(embedder, images, cfg.embed.batch_size)
        for s in sets:
            _match_batch(s, batch, images, raw, cfg)
        n += len(batch)
    return n


def _summary(s: _EvalSet, descriptor: str, scanned: int) -> dict:
    dup_ids = {r["eval_id"] for r in s.rows if r["duplicate"]}
    n_all = len(s.index.ids)
    cal = s.calibration
    return {
        "eval_set": s.name,
        "path": s.path,
        "descriptor": descriptor,
        "threshold": s.threshold,
        "threshold_source": s.source,
        "calibration_precision": cal.precision if cal else None,
        "calibration_recall": cal.recall if cal else None,
        "all": n_all,
        "overlap": len(dup_ids),
        "clean": n_all - len(dup_ids),
        "overlap_pct": round(100.0 * len(dup_ids) / n_all, 3) if n_all else 0.0,
        "train_images": scanned,
        "flagged_train": len({r["key"] for r in s.rows if r["duplicate"]}),
    }


def _write_parquet(path: str, rows: list[dict], schema: pa.Schema) -> None:
    table = pa.Table.from_pylist(rows, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    storage.write_bytes(path, buf.getvalue())


OVERLAP_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("shard", pa.string()),
        ("eval_set", pa.string()),
        ("eval_id", pa.string()),
        ("similarity", pa.float32()),
        ("rank", pa.int32()),
        ("duplicate", pa.bool_()),
        ("threshold", pa.float32()),
        ("caption", pa.string()),
        ("url", pa.string()),
    ]
)
EVAL_SCHEMA = pa.schema(
    [
        ("eval_set", pa.string()),
        ("eval_id", pa.string()),
        ("label", pa.string()),
        ("overlap", pa.bool_()),
        ("max_similarity", pa.float32()),
        ("matches", pa.int32()),
    ]
)
EXCLUSION_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("shard", pa.string()),
        ("eval_set", pa.string()),
        ("eval_id", pa.string()),
        ("similarity", pa.float32()),
    ]
)


def _eval_rows(s: _EvalSet) -> list[dict]:
    best: dict[str, float] = {}
    count: dict[str, int] = {}
    for r in s.rows:
        best[r["eval_id"]] = max(best.get(r["eval_id"], -1.0), r["similarity"])
        count[r["eval_id"]] = count.get(r["eval_id"], 0) + int(r["duplicate"])
    return [
        {
            "eval_set": s.name,
            "eval_id": i,
            "label": lab,
            "overlap": count.get(i, 0) > 0,
            "max_similarity": best.get(i),
            "matches": count.get(i, 0),
        }
        for i, lab in zip(s.index.ids, s.labels, strict=True)
    ]


def _write_outputs(sets: Sequence[_EvalSet], summaries: list[dict], cfg: DedupConfig) -> None:
    rows = [r for s in sets for r in s.rows]
    _write_parquet(storage.join(cfg.out, "overlap.parquet"), rows, OVERLAP_SCHEMA)
    _write_parquet(
        storage.join(cfg.out, "eval_images.parquet"),
        [r for s in sets for r in _eval_rows(s)],
        EVAL_SCHEMA,
    )
    _write_parquet(storage.join(cfg.out, "summary.parquet"), summaries, None)  # type: ignore[arg-type]
    storage.write_bytes(
        storage.join(cfg.out, "summary.json"), json.dumps(summaries, indent=2).encode()
    )
    dups = [{k: r[k] for k in EXCLUSION_SCHEMA.names} for r in rows if r["duplicate"]]
    keys = sorted({r["key"] for r in dups})
    storage.write_bytes(
        storage.join(cfg.out, "exclusion", "keys.txt"), "".join(k + "\n" for k in keys).encode()
    )
    _write_parquet(storage.join(cfg.out, "exclusion", "exclusion.parquet"), dups, EXCLUSION_SCHEMA)


def run_dedup(cfg: DedupConfig) -> list[dict]:
    """Run the whole analysis; returns the per-eval-set summaries."""
    from dedup.report import write_report

    embedder = make_embedder(cfg.embed)
    paths = [p for spec in cfg.shards for p in shard_paths(spec)]
    if not paths:  # an audit of nothing would report 0% overlap: refuse it
        raise UsageError(f"no shards found at {', '.join(cfg.shards)}")
    stream = iter_train_images(paths)
    head = list(islice(stream, cfg.background))
    if not head:
        raise UsageError(f"the shards at {', '.join(cfg.shards)} hold no images")
    bg = embed_in_batches(embedder, [decode(t.data, 128) for t in head], cfg.embed.batch_size)
    sets = [_load_set(name, path, embedder, cfg, bg) for name, path in cfg.evals]
    scanned = _scan(sets, chain(head, stream), embedder, cfg)
    summaries = [_summary(s, embedder.name, scanned) for s in sets]
    _write_outputs(sets, summaries, cfg)
    write_report(cfg.out, sets, summaries)
    return summaries


def calibrate_sets(specs: Sequence[str], embed: EmbedConfig, cal: CalibrationConfig) -> dict:
    """Thresholds for eval sets given as `NAME=PATH`, calibrated on synthetic copies."""
    from dataclasses import asdict

    from dedup.evalsets import parse_eval_spec

    embedder = make_embedder(embed)
    out = {}
    for spec in specs:
        name, path = parse_eval_spec(spec)
        items = list(read_eval_set(name, path))
        images = [decode(it.data, 256) for it in items]
        index = EvalIndex.build(
            [it.eval_id for it in items], images, embedder, embed, IndexConfig()
        )
        floor = cal.floor if embed.kind == "classical" else 0.0
        result = calibrate(
            index,
            images,
            embedder,
            CalibrationConfig(cal.precision, cal.max_images, cal.names, floor, cal.seed),
        )
        out[name] = {"descriptor": embedder.name, **asdict(result)}
    return out
