"""`wit dedup`, `wit dedup-calibrate`, `wit overlap query` and `wit filter`.

wit dedup --shards out/shards --eval cifar=evals/cifar --eval web=web/evalset --out overlap/
wit dedup-calibrate --eval web=web/evalset --precision 0.99
wit overlap query overlap/ "SELECT * FROM summary"
wit overlap analyze overlap/ --checkpoint runs/tiny/checkpoints/latest.pt [--eval web=PATH]
wit filter --shards out/shards --exclude overlap/exclusion/keys.txt --out clean/
"""

from __future__ import annotations

import argparse
import json
import sys

from dedup.calibrate import CalibrationConfig
from dedup.embed import EmbedConfig
from dedup.index import IndexConfig
from dedup.launch import threshold_spec
from dedup.overlap import CLASSICAL_FLOOR, DedupConfig
from pipeline.usage import at_least

_unit = at_least(0, float, hi=1)  # a probability or precision

__all__ = ["register", "embed_config", "dedup_config", "analysis_config"]


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
    p.add_argument("--input-size", type=at_least(16), default=224)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--whiten", default="auto", help="auto | none | PATH.npz (mean, proj)")
    p.add_argument("--batch-size", type=at_least(1), default=64)
    p.add_argument("--precision", type=_unit, default=0.99, help="calibration target")
    p.add_argument(
        "--floor",
        type=at_least(-1, float, hi=1),
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
    from dedup.launch import check_dedup
    from dedup.overlap import run_dedup

    check_dedup(args)
    summaries = run_dedup(dedup_config(args))
    for s in summaries:
        print(
            f"{s['eval_set']}: {s['overlap']}/{s['all']} eval images overlap "
            f"({s['overlap_pct']}%), threshold {s['threshold']:.3f} ({s['threshold_source']})"
        )
    if args.checkpoint:
        _print_analysis(_analyze(analysis_config(args, args.out)))
    print(f"report: {args.out}/report.html")
    return 0


def _add_analysis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--templates",
        action="append",
        default=[],
        help="prompt template with {} or a file of them (repeatable; default: the trainer's)",
    )
    p.add_argument("--classes", default="", help="class names file (default: the set's labels)")
    p.add_argument("--tokenizer", default="", help="default: OUT/tokenizer.json of the run")
    p.add_argument("--confidence", type=_unit, default=0.995, help="Clopper-Pearson level")


def analysis_config(args: argparse.Namespace, run: str):  # type: ignore[no-untyped-def]
    """The `wit overlap analyze` configuration from parsed arguments."""
    from dedup.analysis import AnalysisConfig, load_templates
    from dedup.evalsets import parse_eval_spec

    return AnalysisConfig(
        run=run,
        checkpoint=args.checkpoint,
        evals=tuple(parse_eval_spec(e) for e in args.eval),
        templates=load_templates(args.templates),
        classes=args.classes,
        tokenizer=args.tokenizer,
        confidence=args.confidence,
        device=args.device,
    )


def _analyze(cfg):  # type: ignore[no-untyped-def]
    from dedup.analysis import analyze

    return analyze(cfg)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _print_analysis(results: list[dict]) -> None:
    for r in results:
        p = (
            "n/a"
            if r["p_value"] is None
            else f"{r['p_value']:.3g} (Fisher {r['p_value_fisher']:.3g})"
        )
        print(
            f"{r['eval_set']}: zero-shot all {_pct(r['all_acc'])} (n={r['all_n']}), "
            f"overlap {_pct(r['overlap_acc'])} (n={r['overlap_n']}), "
            f"clean {_pct(r['clean_acc'])} (n={r['clean_n']}); "
            f"all - clean {_pct(r['all_minus_clean'])} "
            f"[{_pct(r['all_minus_clean_ci_low'])}, {_pct(r['all_minus_clean_ci_high'])}]; "
            f"p(overlap > clean) {p}"
        )


def _run_analyze(args: argparse.Namespace, extra: list[str]) -> int:
    from dedup.launch import check_checkpoint, check_evals, check_run_dir

    check_run_dir(args.dir)
    check_checkpoint(args.checkpoint)
    check_evals(args.eval)
    _print_analysis(_analyze(analysis_config(args, args.dir)))
    print(f"analysis: {args.dir}/analysis.json, report: {args.dir}/report.html")
    return 0


def _run_calibrate(args: argparse.Namespace, extra: list[str]) -> int:
    from dedup.launch import check_calibrate
    from dedup.overlap import calibrate_sets

    check_calibrate(args)
    cal = CalibrationConfig(precision=args.precision, floor=args.floor, max_images=args.max_images)
    result = calibrate_sets(args.eval, embed_config(args), cal)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        from pipeline import storage

        storage.write_bytes(args.out, text.encode())
    return 0


def _run_query(args: argparse.Namespace, extra: list[str]) -> int:
    from dedup.launch import check_run_dir
    from dedup.query import format_table, query

    check_run_dir(args.dir)
    cols, rows = query(args.dir, args.sql)
    print(format_table(cols, rows))
    return 0


def _run_filter(args: argparse.Namespace, extra: list[str]) -> int:
    from dedup.filter import FilterConfig, filter_shards
    from dedup.launch import check_dedup_filter

    check_dedup_filter(args)
    stats = filter_shards(FilterConfig(args.shards, args.exclude, args.out))
    print(json.dumps(stats))
    return 0


def _add_parser(sub: argparse._SubParsersAction, name: str, **kw):  # type: ignore[no-untyped-def,type-arg]
    """Add subcommand `name`, or `dedup-NAME` when another plugin already took `name`."""
    if name in sub.choices:
        print(f"wit: {name!r} is taken by another plugin; use 'dedup-{name}'", file=sys.stderr)
        name = f"dedup-{name}"
    return sub.add_parser(name, **kw)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the dedup subcommands to the `wit` parser."""
    p = _add_parser(sub, "dedup", help="near-duplicates of eval sets in training shards")
    p.add_argument("--shards", action="append", required=True, help="shard folder, tar or glob")
    p.add_argument("--out", required=True)
    p.add_argument(
        "--threshold", action="append", default=[], metavar="NAME=T", type=threshold_spec
    )
    p.add_argument("--k", type=at_least(1), default=5)
    p.add_argument("--index", default="auto", choices=["auto", "flat", "ivf"])
    p.add_argument("--search-device", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--background", type=at_least(1), default=2000)
    p.add_argument("--checkpoint", default="", help="a `wit train` checkpoint: zero-shot analysis")
    _add_embed_args(p)
    _add_analysis_args(p)
    p.set_defaults(func=_run_dedup)
    c = _add_parser(sub, "dedup-calibrate", help="per-eval-set thresholds for a target precision")
    c.add_argument("--out", default="", help="write the thresholds JSON here too")
    c.add_argument("--max-images", type=at_least(1), default=300)
    _add_embed_args(c)
    c.set_defaults(func=_run_calibrate)
    o = _add_parser(sub, "overlap", help="query or analyse an overlap run")
    osub = o.add_subparsers(dest="overlap_command", metavar="ACTION", required=True)
    q = osub.add_parser("query", help="DuckDB SQL over the run's parquet files")
    q.add_argument("dir")
    q.add_argument("sql")
    q.set_defaults(func=_run_query)
    a = osub.add_parser("analyze", help="zero-shot accuracy on All / Overlap / Clean (CLIP s. 5)")
    a.add_argument("dir")
    a.add_argument("--checkpoint", required=True, help="a `wit train` checkpoint (.pt)")
    a.add_argument("--eval", action="append", default=[], metavar="NAME=PATH")
    a.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _add_analysis_args(a)
    a.set_defaults(func=_run_analyze)
    f = _add_parser(sub, "filter", help="reshard without the keys of an exclusion list")
    f.add_argument("--shards", required=True)
    f.add_argument("--exclude", required=True, help="keys.txt or exclusion.parquet")
    f.add_argument("--out", required=True)
    f.set_defaults(func=_run_filter)


if __name__ == "__main__":
    from pipeline.cli import main

    sys.exit(main())
