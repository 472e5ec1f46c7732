"""`wit dedup`, `wit dedup-calibrate`, `wit overlap query` and `wit filter`.

wit dedup --shards out/shards --eval cifar=evals/cifar --eval web=web/evalset --out overlap/
wit dedup-calibrate --eval web=web/evalset --precision 0.99
wit overlap query overlap/ "SELECT * FROM summary"
wit filter --shards out/shards --exclude overlap/exclusion/keys.txt --out clean/
"""

from __future__ import annotations

import argparse
import json
import sys

from dedup.calibrate import CalibrationConfig
from dedup.embed import EmbedConfig
from dedup.index import IndexConfig
from dedup.overlap import CLASSICAL_FLOOR, DedupConfig

__all__ = ["register", "embed_config", "dedup_config"]


def _add_embed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--eval",
        action="append",
        default=[],
        metavar="NAME=PATH",
        required=True,
        help="an evaluation set (repeatable): folder, class folders, tars, parquet",
    )
    p.add_argument("--model", default="", help="TorchScript (.pt) or ONNX (.onnx) descriptor model")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--whiten", default="auto", help="auto | none | PATH.npz (mean, proj)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--precision", type=float, default=0.99, help="calibration target")
    p.add_argument(
        "--floor",
        type=float,
        default=CLASSICAL_FLOOR,
        help="lowest threshold calibration may pick (classical descriptor)",
    )


def embed_config(args: argparse.Namespace) -> EmbedConfig:
    """The embedder settings from parsed arguments."""
    kind = "classical"
    if args.model:
        kind = "onnx" if args.model.endswith(".onnx") else "torchscript"
    return EmbedConfig(
        kind=kind,
        model_path=args.model,
        input_size=args.input_size,
        batch_size=args.batch_size,
        device=args.device,
        whiten=args.whiten,
    )


def _thresholds(specs: list[str]) -> tuple[tuple[str, float], ...]:
    out = []
    for spec in specs:
        name, _, value = spec.partition("=")
        out.append((name, float(value)))
    return tuple(out)


def dedup_config(args: argparse.Namespace) -> DedupConfig:
    """The whole `wit dedup` configuration from parsed arguments."""
    from dedup.evalsets import parse_eval_spec

    return DedupConfig(
        shards=tuple(args.shards),
        evals=tuple(parse_eval_spec(e) for e in args.eval),
        out=args.out,
        embed=embed_config(args),
        index=IndexConfig(kind=args.index, device=args.search_device),
        thresholds=_thresholds(args.threshold),
        calibration=CalibrationConfig(precision=args.precision, floor=args.floor),
        k=args.k,
        background=args.background,
    )


def _run_dedup(args: argparse.Namespace, extra: list[str]) -> int:
    from dedup.overlap import run_dedup

    summaries = run_dedup(dedup_config(args))
    for s in summaries:
        print(
            f"{s['eval_set']}: {s['overlap']}/{s['all']} eval images overlap "
            f"({s['overlap_pct']}%), threshold {s['threshold']:.3f} ({s['threshold_source']})"
        )
    print(f"report: {args.out}/report.html")
    return 0


def _run_calibrate(args: argparse.Namespace, extra: list[str]) -> int:
    from dedup.overlap import calibrate_sets

    cal = CalibrationConfig(precision=args.precision, floor=args.floor, max_images=args.max_images)
    result = calibrate_sets(args.eval, embed_config(args), cal)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        from pipeline import storage

        storage.write_bytes(args.out, text.encode())
    return 0


def _run_query(args: argparse.Namespace, extra: list[str]) -> int:
    from dedup.query import format_table, query

    cols, rows = query(args.dir, args.sql)
    print(format_table(cols, rows))
    return 0


def _run_filter(args: argparse.Namespace, extra: list[str]) -> int:
    from dedup.filter import FilterConfig, filter_shards

    stats = filter_shards(FilterConfig(args.shards, args.exclude, args.out))
    print(json.dumps(stats))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the dedup subcommands to the `wit` parser."""
    p = sub.add_parser("dedup", help="near-duplicates of eval sets in training shards")
    p.add_argument("--shards", action="append", required=True, help="shard folder, tar or glob")
    p.add_argument("--out", required=True)
    p.add_argument("--threshold", action="append", default=[], metavar="NAME=T")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--index", default="auto", choices=["auto", "flat", "ivf"])
    p.add_argument("--search-device", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--background", type=int, default=2000)
    _add_embed_args(p)
    p.set_defaults(func=_run_dedup)
    c = sub.add_parser("dedup-calibrate", help="per-eval-set thresholds for a target precision")
    c.add_argument("--out", default="", help="write the thresholds JSON here too")
    c.add_argument("--max-images", type=int, default=300)
    _add_embed_args(c)
    c.set_defaults(func=_run_calibrate)
    o = sub.add_parser("overlap", help="query an overlap run")
    osub = o.add_subparsers(dest="overlap_command", metavar="ACTION", required=True)
    q = osub.add_parser("query", help="DuckDB SQL over the run's parquet files")
    q.add_argument("dir")
    q.add_argument("sql")
    q.set_defaults(func=_run_query)
    f = sub.add_parser("filter", help="reshard without the keys of an exclusion list")
    f.add_argument("--shards", required=True)
    f.add_argument("--exclude", required=True, help="keys.txt or exclusion.parquet")
    f.add_argument("--out", required=True)
    f.set_defaults(func=_run_filter)


if __name__ == "__main__":
    from pipeline.cli import main

    sys.exit(main())
