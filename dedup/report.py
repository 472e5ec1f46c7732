"""The HTML overlap report: per-eval-set table, similarity histograms, matches side by side.

Written by `run_dedup` as `report.html`, one self-contained file (thumbnails and histograms
inline as data URIs: the page can be copied or mailed alone). Every piece of web or user text (captions, URLs, ids, labels, paths) goes
through `html.escape`.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

from pipeline import storage
from pipeline.text import display_text

__all__ = ["write_report", "histogram_png", "add_analysis", "analysis_html"]

_COLUMNS = (
    "eval_set",
    "all",
    "overlap",
    "clean",
    "overlap_pct",
    "threshold",
    "threshold_source",
    "descriptor",
    "train_images",
    "flagged_train",
)
_MARK_START, _MARK_END = "<!-- analysis:start -->", "<!-- analysis:end -->"
_STYLE = """body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px}.pair{display:inline-block;margin:6px;
padding:6px;border:1px solid #ddd;width:290px;vertical-align:top;font-size:12px}
.pair img{width:128px;height:128px;object-fit:contain;background:#eee}.cap{word-wrap:break-word}"""


def histogram_png(values: Sequence[float], threshold: float, title: str) -> bytes:
    """A PNG histogram of top-1 similarities with the threshold marked (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3), dpi=90)
    ax.hist(list(values) or [0.0], bins=50, color="#4a78b0", log=True)
    ax.axvline(threshold, color="#c0392b", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("top-1 similarity of each training image")
    ax.set_ylabel("images (log)")
    ax.set_title(title)
    ax.legend()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _esc(text: object) -> str:
    """Untrusted text for the report: valid Unicode, no bidi controls, HTML-escaped."""
    return html.escape(display_text(text))


def _img(data: bytes) -> str:
    if not data:
        return '<div style="width:128px;height:128px;background:#eee"></div>'
    return f'<img src="data:image/jpeg;base64,{base64.b64encode(data).decode()}">'


def _pair(s: Any, row: dict) -> str:
    e = _esc
    eval_idx = s.index.ids.index(row["eval_id"])
    flag = "duplicate" if row["duplicate"] else "below threshold"
    return (
        f'<div class="pair">{_img(s.thumbs[eval_idx])} {_img(s.train_thumbs.get(row["key"], b""))}'
        f"<br>eval <b>{e(row['eval_id'])}</b> vs train <b>{e(row['key'])}</b> "
        f"({e(row['shard'])})<br>similarity {row['similarity']:.3f}, {flag}"
        f'<div class="cap">{e(row["caption"])}</div><div class="cap">{e(row["url"])}</div></div>'
    )


def _table(summaries: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(s.get(c, '')))}</td>" for c in _COLUMNS) + "</tr>"
        for s in summaries
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _section(out: str, s: Any, n: int = 12) -> str:
    e = _esc
    png = base64.b64encode(histogram_png(s.top1, s.threshold, s.name)).decode()
    top = sorted((r for r in s.rows if r["duplicate"]), key=lambda r: -r["similarity"])[:n]
    near = sorted(s.rows, key=lambda r: abs(r["similarity"] - s.threshold))[:n]
    parts = [
        f"<h2>{e(s.name)}</h2><p>source: {e(s.path)}</p>",
        f'<img src="data:image/png;base64,{png}" alt="similarity histogram">',  # self-contained
        "<h3>Top matches</h3>" + ("".join(_pair(s, r) for r in top) or "<p>none</p>"),
        "<h3>Near the threshold</h3>" + ("".join(_pair(s, r) for r in near) or "<p>none</p>"),
    ]
    return "\n".join(parts)


def write_report(out: str, sets: Sequence[Any], summaries: list[dict]) -> str:
    """Write `report.html` (and its PNGs) under `out`; returns its path."""
    body = "\n".join(_section(out, s) for s in sets)
    doc = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Overlap report</title>"
        f"<style>{_STYLE}</style></head><body><h1>Eval-set overlap</h1>"
        f"<p>Overlap = eval images with at least one training near-duplicate at or above the "
        f"set's threshold; Clean = the rest. Query with <code>wit overlap query DIR SQL</code>.</p>"
        f"{_table(summaries)}\n{_MARK_START}{_MARK_END}\n{body}</body></html>"
    )
    path = storage.join(out, "report.html")
    storage.write_bytes(path, doc.encode("utf-8"))
    return path


def _fmt(value: Any, pct: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}" if pct else f"{value:.3g}"


def _interval(row: dict, prefix: str) -> str:
    lo, hi = row.get(f"{prefix}_ci_low"), row.get(f"{prefix}_ci_high")
    return "n/a" if lo is None else f"[{_fmt(lo)}, {_fmt(hi)}]"


def analysis_html(results: list[dict]) -> str:
    """The CLIP Section 5 table (accuracies in %, intervals, p-values), all text escaped."""
    e = _esc
    level = f"{100 * results[0]['confidence']:g}" if results else ""
    head = (
        "<tr><th>eval_set</th><th>classes</th><th>All (n)</th><th>Overlap (n)</th>"
        "<th>Clean (n)</th><th>All acc %</th><th>Overlap acc %</th><th>Clean acc %</th>"
        f"<th>Overlap - Clean % [{level} % CI]</th><th>All - Clean % [{level} % CI]</th>"
        "<th>p (Overlap &gt; Clean): binomial, Fisher</th></tr>"
    )
    body = "".join(
        f"<tr><td>{e(str(r['eval_set']))}</td><td>{r['classes']}</td><td>{r['all_n']}</td>"
        f"<td>{r['overlap_n']}</td><td>{r['clean_n']}</td>"
        + "".join(
            f"<td>{_fmt(r[f'{s}_acc'])} {_interval(r, s)}</td>" for s in ("all", "overlap", "clean")
        )
        + f"<td>{_fmt(r['overlap_minus_clean'])} {_interval(r, 'overlap_minus_clean')}</td>"
        f"<td>{_fmt(r['all_minus_clean'])} {_interval(r, 'all_minus_clean')}</td>"
        f"<td>{_fmt(r['p_value'], pct=False)}, {_fmt(r.get('p_value_fisher'), pct=False)}</td></tr>"
        for r in results
    )
    ckpt = e(str(results[0]["checkpoint"])) if results else ""
    return (
        f"<h2>Zero-shot accuracy: All / Overlap / Clean</h2><p>checkpoint {ckpt}; exact "
        f"Clopper-Pearson intervals ({level} %); differences use Clean's accuracy as the baseline "
        "(CLIP, Section 5); p: one-sided exact binomial test of Overlap's correct count against "
        "Clean's accuracy (the paper's), and a one-sided Fisher exact test, which also allows "
        f"for the uncertainty of Clean's accuracy.</p><table>{head}{body}</table>"
    )


def add_analysis(out: str, results: list[dict]) -> str:
    """Put (or replace) the analysis section in `out/report.html`; returns its path."""
    path = storage.join(out, "report.html")
    section = f"{_MARK_START}{analysis_html(results)}{_MARK_END}"
    if storage.exists(path):
        doc = storage.read_bytes(path).decode("utf-8")
    else:
        doc = "<!doctype html><html><head><meta charset='utf-8'></head><body></body></html>"
    start, end = doc.find(_MARK_START), doc.find(_MARK_END)
    if start >= 0 and end > start:
        doc = doc[:start] + section + doc[end + len(_MARK_END) :]
    else:
        doc = doc.replace("</body>", section + "</body>", 1)
    storage.write_bytes(path, doc.encode("utf-8"))
    return path
