"""The plots of the dataset card (`pipeline.report`): pure functions from numbers to PNG bytes.

Each function takes plain Python data and returns a PNG (matplotlib, Agg backend, no metadata
that changes between runs). Web text used as a label is passed through `label()` so mathtext
never interprets it.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = [
    "label",
    "funnel_png",
    "drops_png",
    "queries_png",
    "languages_png",
    "sizes_png",
    "captions_png",
]

STAGE_ORDER = (
    "read",
    "filter_text",
    "dedup_url",
    "match_queries",
    "language",
    "balance",
    "download",
    "image",
    "dedup_image",
)
_BLUE, _RED, _GREY = "#3b6ea8", "#c0504d", "#8c8c8c"


def label(text: str, width: int = 28) -> str:
    """Untrusted text made safe for a matplotlib label: no mathtext, one short line."""
    text = " ".join(str(text).split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=96, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _empty(title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 1.6))
    ax.text(0.5, 0.5, "no samples", ha="center", va="center", fontsize=12, color=_GREY)
    ax.set_axis_off()
    ax.set_title(title)
    return _png(fig)


def _stages(drops: dict[str, dict[str, int]]) -> list[str]:
    known = [s for s in STAGE_ORDER if s in drops]
    return known + sorted(s for s in drops if s not in STAGE_ORDER)


def funnel_png(total: int, drops: dict[str, dict[str, int]]) -> bytes:
    """Candidates left after each stage, from the input down to the samples in shards."""
    names, left, lost = ["candidates"], [total], [0]
    for stage in _stages(drops):
        dropped = sum(drops[stage].values())
        names.append(stage)
        left.append(left[-1] - dropped)
        lost.append(dropped)
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(names) + 1))
    y = range(len(names))[::-1]
    ax.barh(y, left, color=_BLUE, label="left")
    ax.barh(y, lost, left=left, color=_RED, alpha=0.6, label="dropped here")
    for yi, n, d in zip(y, left, lost, strict=True):
        ax.text(n, yi, f" {n}" + (f"  (-{d})" if d else ""), va="center", fontsize=8)
    ax.set_yticks(list(y), names)
    ax.set_xlabel("records")
    ax.set_title("Funnel: candidates to samples")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_xlim(0, total * 1.2 or 1)
    return _png(fig)


def drops_png(drops: dict[str, dict[str, int]]) -> bytes:
    """Every drop reason, as a horizontal bar per (stage, reason), largest first."""
    if not drops:
        return _empty("Drop reasons")
    rows = sorted(
        (
            (count, f"{stage} / {reason}")
            for stage, rs in drops.items()
            for reason, count in rs.items()
        ),
        reverse=True,
    )
    fig, ax = plt.subplots(figsize=(8, 0.3 * max(len(rows), 1) + 1))
    y = range(len(rows))[::-1]
    ax.barh(list(y), [c for c, _ in rows], color=_RED)
    ax.set_yticks(list(y), [label(n, 45) for _, n in rows], fontsize=8)
    for yi, (count, _) in zip(y, rows, strict=True):
        ax.text(count, yi, f" {count}", va="center", fontsize=8)
    ax.set_xlabel("records dropped")
    ax.set_title("Drop reasons")
    return _png(fig)


def queries_png(per_query: Counter[str], head: int = 12, tail: int = 8) -> bytes:
    """Samples per query: the rank-frequency curve (log-log) and the head and tail by name."""
    ranked = [(q, c) for q, c in per_query.most_common() if c > 0]
    if not ranked:
        return _empty("Samples per query")
    fig, (curve, bars) = plt.subplots(1, 2, figsize=(11, 4.5))
    counts = [c for _, c in ranked]
    curve.loglog(range(1, len(counts) + 1), counts, marker=".", color=_BLUE)
    curve.set_xlabel("query rank")
    curve.set_ylabel("samples (log)")
    curve.set_title(f"Samples per query ({len(ranked)} queries)")
    shown = (
        ranked[:head] + ([("…", 0)] if len(ranked) > head + tail else []) + ranked[head:][-tail:]
    )
    y = range(len(shown))[::-1]
    colors = [_BLUE] * min(head, len(ranked)) + [_GREY] * (len(shown) - min(head, len(ranked)))
    bars.barh(list(y), [max(c, 0.9) if q != "…" else 0 for q, c in shown], color=colors, log=True)
    bars.set_yticks(list(y), [label(q) for q, _ in shown], fontsize=8)
    bars.set_xlabel("samples (log)")
    bars.set_title(f"Head ({head}) and tail ({tail}) queries")
    return _png(fig)


def languages_png(languages: Counter[str], top: int = 15) -> bytes:
    """Samples per detected caption language (the most common `top`, the rest as `other`)."""
    rows = [(lang, c) for lang, c in languages.most_common(top) if c > 0]
    if not rows:
        return _empty("Caption languages")
    rest = sum(languages.values()) - sum(c for _, c in rows)
    rows += [("other", rest)] if rest else []
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(rows) + 1.2))
    y = range(len(rows))[::-1]
    counts = [c for _, c in rows]
    ax.barh(list(y), counts, color=_BLUE)
    ax.set_yticks(list(y), [label(lang or "unknown") for lang, _ in rows])
    for yi, count in zip(y, counts, strict=True):
        ax.text(count, yi, f" {count}", va="center", fontsize=8)
    wide = bool(counts) and max(counts) > 20 * max(min(counts), 1)
    ax.set_xscale("log" if wide else "linear")
    ax.set_xlabel("samples (log)" if wide else "samples")
    ax.set_title(f"Caption languages ({len(languages)})")
    return _png(fig)


def sizes_png(widths: Sequence[int], heights: Sequence[int]) -> bytes:
    """Original image sizes (scatter, log axes) and aspect ratios (histogram)."""
    pairs = [(w, h) for w, h in zip(widths, heights, strict=True) if w > 0 and h > 0]
    if not pairs:
        return _empty("Original image sizes")
    widths, heights = [w for w, _ in pairs], [h for _, h in pairs]
    fig, (scatter, hist) = plt.subplots(1, 2, figsize=(11, 4.2))
    scatter.scatter(widths, heights, s=6, alpha=0.4, color=_BLUE)
    scatter.set_xscale("log")
    scatter.set_yscale("log")
    scatter.set_xlabel("original width (px)")
    scatter.set_ylabel("original height (px)")
    scatter.set_title("Original image sizes")
    hist.hist([w / h for w, h in pairs], bins=40, color=_BLUE)
    hist.set_xlabel("aspect ratio (width / height)")
    hist.set_ylabel("samples")
    hist.set_title("Aspect ratios")
    return _png(fig)


def captions_png(lengths: Sequence[int], words: Sequence[int]) -> bytes:
    """Caption lengths in characters and in words (histograms)."""
    if not lengths:
        return _empty("Caption lengths")
    fig, (chars, toks) = plt.subplots(1, 2, figsize=(11, 3.8))
    chars.hist(lengths, bins=40, color=_BLUE)
    chars.set_xlabel("caption length (characters)")
    chars.set_ylabel("samples")
    chars.set_title("Caption lengths")
    words = list(words)
    toks.hist(words, bins=range(min(words), max(words) + 2), color=_BLUE, align="left", rwidth=0.9)
    toks.set_xlabel("caption length (words)")
    toks.set_title("Caption words")
    return _png(fig)
