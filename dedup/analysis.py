"""CLIP Section 5's analysis: does overlap with the training data change zero-shot accuracy?

    wit overlap analyze overlap/ --checkpoint runs/b32/checkpoints/latest.pt [--eval web=PATH]

For every eval set of a `wit dedup` run (its `eval_images.parquet` gives each image's
overlap flag), the checkpoint's zero-shot top-1 accuracy is computed on All, Overlap and
Clean, each with an exact Clopper-Pearson interval (99.5 % by default, as the paper). As in
the paper, Clean's accuracy is the baseline: Overlap - Clean gets the interval
CP(Overlap) - acc(Clean), All - Clean = (overlap share) x (Overlap - Clean) gets that interval
scaled, and a one-sided exact binomial test gives the p-value of Overlap's correct count under
H0 "Overlap's accuracy is Clean's" (and, since that treats Clean's accuracy as exact, a
one-sided Fisher exact test beside it for small sets). Written to the run folder:

- `analysis.parquet` / `analysis.json`: one row per eval set (see `split_stats`)
- `zeroshot.parquet`: one row per eval image (label, prediction, correct, overlap)
- a section of `report.html`
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dedup.evalsets import read_eval_set
from dedup.stats import binom_test_greater, clopper_pearson, fisher_greater
from pipeline import storage

__all__ = ["AnalysisConfig", "split_stats", "analyze", "load_templates", "SPLITS"]

SPLITS = ("all", "overlap", "clean")


@dataclass(frozen=True)
class AnalysisConfig:
    """What `wit overlap analyze` needs, parsed from the command line."""

    run: str  # the `wit dedup --out` folder
    checkpoint: str
    evals: tuple[tuple[str, str], ...] = ()  # default: the paths in the run's summary.json
    templates: tuple[str, ...] = ()  # default: train.evaluate.TEMPLATES
    classes: str = ""  # a file of class names, one per line; default: the set's labels
    tokenizer: str = ""  # default: the run's tokenizer.json beside `checkpoints/`
    confidence: float = 0.995
    device: str = "auto"
    batch_size: int = 128


def _split(correct: np.ndarray, confidence: float, prefix: str) -> dict:
    n, k = int(correct.size), int(correct.sum())
    lo, hi = clopper_pearson(k, n, confidence) if n else (None, None)
    return {
        f"{prefix}_n": n,
        f"{prefix}_correct": k,
        f"{prefix}_acc": k / n if n else None,
        f"{prefix}_ci_low": lo,
        f"{prefix}_ci_high": hi,
    }


def split_stats(correct: Sequence[bool], overlap: Sequence[bool], confidence: float) -> dict:
    """Accuracy of All / Overlap / Clean with intervals, the differences and the binomial test."""
    c, o = np.asarray(correct, bool), np.asarray(overlap, bool)
    row = {"confidence": confidence}
    for name, mask in zip(SPLITS, (np.ones_like(o), o, ~o), strict=True):
        row.update(_split(c[mask], confidence, name))
    row.update(
        {
            "overlap_minus_clean": None,
            "overlap_minus_clean_ci_low": None,
            "overlap_minus_clean_ci_high": None,
            "all_minus_clean": None,
            "all_minus_clean_ci_low": None,
            "all_minus_clean_ci_high": None,
            "p_value": None,
            "p_value_fisher": None,
        }
    )
    if row["overlap_n"] and row["clean_n"]:
        base, share = row["clean_acc"], row["overlap_n"] / row["all_n"]
        diff = row["overlap_acc"] - base
        lo, hi = row["overlap_ci_low"] - base, row["overlap_ci_high"] - base
        row.update(
            {
                "overlap_minus_clean": diff,
                "overlap_minus_clean_ci_low": lo,
                "overlap_minus_clean_ci_high": hi,
                "all_minus_clean": row["all_acc"] - base,
                "all_minus_clean_ci_low": share * lo,
                "all_minus_clean_ci_high": share * hi,
                "p_value": binom_test_greater(row["overlap_correct"], row["overlap_n"], base),
                "p_value_fisher": fisher_greater(
                    row["overlap_correct"], row["overlap_n"], row["clean_correct"], row["clean_n"]
                ),
            }
        )
    return row


def load_templates(specs: Sequence[str]) -> tuple[str, ...]:
    """Templates from strings containing `{}` or files of them (one per line)."""
    out: list[str] = []
    for spec in specs:
        if "{}" in spec:
            out.append(spec)
            continue
        lines = storage.read_bytes(spec).decode("utf-8").splitlines()
        out.extend(line for line in lines if line.strip() and not line.startswith("#"))
    bad = [t for t in out if "{}" not in t]
    if bad:
        raise ValueError(f"templates without '{{}}': {bad[:3]}")
    return tuple(out)


def _read_classes(path: str) -> list[str]:
    lines = storage.read_bytes(path).decode("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _eval_paths(cfg: AnalysisConfig) -> list[tuple[str, str]]:
    if cfg.evals:
        return list(cfg.evals)
    summary = json.loads(storage.read_bytes(storage.join(cfg.run, "summary.json")))
    return [(s["eval_set"], s["path"]) for s in summary]


def _splits_of_run(run: str) -> dict[str, dict[str, bool]]:
    """{eval_set: {eval_id: overlap}} from the run's eval_images.parquet."""
    table = pq.read_table(io.BytesIO(storage.read_bytes(storage.join(run, "eval_images.parquet"))))
    out: dict[str, dict[str, bool]] = {}
    for r in table.select(["eval_set", "eval_id", "overlap"]).to_pylist():
        out.setdefault(r["eval_set"], {})[r["eval_id"]] = bool(r["overlap"])
    return out


def _analyze_set(name: str, path: str, flags: dict[str, bool], ctx: dict) -> tuple[dict, list]:
    """One eval set: predictions per image, then the split statistics."""
    from dedup.zeroshot import predict

    cfg: AnalysisConfig = ctx["cfg"]
    items = [it for it in read_eval_set(name, path) if it.eval_id in flags]
    classes = ctx["classes"] or sorted({it.label for it in items if it.label})
    index = {c: i for i, c in enumerate(classes)}
    usable = [it for it in items if it.label in index]
    pred = predict(
        ctx["model"], ctx["tok"], [it.data for it in usable], classes, ctx["templates"],
        ctx["device"], cfg.batch_size,
    )  # fmt: skip
    rows = [
        {
            "eval_set": name,
            "eval_id": it.eval_id,
            "label": it.label,
            "predicted": classes[p] if p >= 0 else None,
            "correct": bool(p == index[it.label]),
            "overlap": flags[it.eval_id],
        }
        for it, p in zip(usable, pred, strict=True)
    ]
    stats = split_stats([r["correct"] for r in rows], [r["overlap"] for r in rows], cfg.confidence)
    head = {
        "eval_set": name,
        "checkpoint": cfg.checkpoint,
        "classes": len(classes),
        "chance": 1.0 / len(classes) if classes else None,
        "templates": len(ctx["templates"]),
        "missing": len(flags) - len(items),
        "unlabelled": len(items) - len(usable),
    }
    return {**head, **stats}, rows


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _write_parquet(path: str, rows: list[dict]) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    storage.write_bytes(path, buf.getvalue())


def analyze(cfg: AnalysisConfig) -> list[dict]:
    """Run the analysis for every eval set of the run; writes the outputs; returns the rows."""
    from dedup.report import add_analysis
    from dedup.zeroshot import TEMPLATES, load_clip

    device = _device(cfg.device)
    model, tok = load_clip(cfg.checkpoint, cfg.tokenizer, device)
    ctx = {
        "cfg": cfg,
        "model": model,
        "tok": tok,
        "device": device,
        "templates": cfg.templates or TEMPLATES,
        "classes": _read_classes(cfg.classes) if cfg.classes else [],
    }
    flags = _splits_of_run(cfg.run)
    results, predictions = [], []
    for name, path in _eval_paths(cfg):
        if name not in flags:
            raise ValueError(f"eval set {name!r} is not in {cfg.run}/eval_images.parquet")
        row, preds = _analyze_set(name, path, flags[name], ctx)
        results.append(row)
        predictions.extend(preds)
    _write_parquet(storage.join(cfg.run, "analysis.parquet"), results)
    _write_parquet(storage.join(cfg.run, "zeroshot.parquet"), predictions)
    storage.write_bytes(
        storage.join(cfg.run, "analysis.json"), json.dumps(results, indent=2).encode()
    )
    add_analysis(cfg.run, results)
    return results
