"""The one plotting path of both reports (dataset card, overlap report): matplotlib to inline SVG.

Every function takes plain numbers and returns one `<img>` whose source is an SVG data URI, so a
report stays one self-contained HTML file and the SVGs of a page cannot clash (ids, styles).
Axes are readable: counts get integer ticks, log axes say so and label their decades in plain
numbers. The SVG bytes are deterministic (no date, fixed id salt), so a rerun's report is
byte-identical. Text from the web (queries, languages) is drawn as text, never as mathtext.

    html = bars("Languages", ["en", "de"], [900, 40], "samples")
    html = histogram("Similarity", values, "top-1 similarity", marker=(0.6, "threshold 0.600"))
"""

from __future__ import annotations

import base64
import html as _html
import io
import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "label",
    "bars",
    "histogram",
    "integer_bins",
    "rank_frequency",
    "density",
    "empty",
    "BLUE",
    "RED",
]

BLUE, RED, GREY = "#3b6ea8", "#c0504d", "#8c8c8c"
_RC = {
    "svg.fonttype": "none",  # text stays text: small files, selectable labels
    "svg.hashsalt": "wit-pipeline",  # deterministic ids
    "text.parse_math": False,  # "$5 off" is a caption, not mathtext
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def label(text: object, width: int = 28) -> str:
    """Untrusted text as a short one-line label."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(width: float, height: float) -> tuple[Any, Any, Any]:
    import matplotlib

    rc = matplotlib.rc_context(_RC)
    rc.__enter__()
    fig, ax = _pyplot().subplots(figsize=(width, height), layout="constrained")
    return rc, fig, ax


def _html_img(rc: Any, fig: Any, title: str) -> str:
    """Close the figure; returns it as `<img src="data:image/svg+xml;base64,...">`."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="svg", metadata={"Date": None})  # one draw: constrained layout
    finally:
        _pyplot().close(fig)
        rc.__exit__(None, None, None)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    alt = _html.escape(title, quote=True)
    return f'<img alt="{alt}" title="{alt}" src="data:image/svg+xml;base64,{data}">'


def _count_axis(axis: Any, log: bool) -> None:
    """Integer ticks for counts; on a log axis, decades labelled 1, 10, 100, 1,000."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    if log:
        lo, hi = sorted(axis.get_view_interval())
        narrow = hi <= 100 * max(lo, 1e-9)  # two decades or less: label 1, 2, 5 of each
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if narrow else (1.0,)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
    else:
        axis.set_major_locator(MaxNLocator(integer=True))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _axis_label(text: str, log: bool) -> str:
    return text + (" (log scale)" if log else "")


def empty(title: str, note: str = "no samples") -> str:
    """A small placeholder figure for a plot with nothing to show."""
    rc, fig, ax = _figure(5, 0.6)
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"{title}: {note}", ha="center", va="center", color=GREY)
    return _html_img(rc, fig, title)


def bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    xlabel: str,
    extra: Sequence[int] | None = None,
    extra_label: str = "",
    log: bool = False,
    color: str = BLUE,
) -> str:
    """Horizontal bars, first label on top, each value written at its bar's end.

    `extra` stacks a red segment after each bar (a funnel's drops); `log` puts counts on a log
    axis (bars start at 1).
    """
    if not labels:
        return empty(title)
    extra = list(extra or [0] * len(values))
    rc, fig, ax = _figure(7, 0.7 + 0.24 * len(labels))
    y = range(len(labels))
    base = 1 if log else 0
    ax.barh(y, [max(v, base) - base for v in values], left=base, color=color)
    if any(extra):
        ax.barh(y, extra, left=[max(v, base) for v in values], color=RED)
        xlabel += f" (red: {extra_label})" if extra_label else ""
    for i, (value, more) in enumerate(zip(values, extra, strict=True)):
        note = f" {value:,}" + (f" (-{more:,})" if more else "")
        ax.text(max(value + more, base), i, note, va="center", fontsize=8)
    ax.set_yticks(list(y), [label(t, 40) for t in labels])
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    _count_axis(ax.xaxis, log)
    ax.margins(x=0.15)
    ax.set_xlabel(_axis_label(xlabel, log))
    ax.set_title(title)
    return _html_img(rc, fig, title)


def histogram(
    title: str,
    values: Sequence[float],
    xlabel: str,
    bins: int | Sequence[float] = 40,
    log: bool = False,
    marker: tuple[float, str] | None = None,
    ylabel: str = "count",
) -> str:
    """A histogram of `values`; `marker=(x, text)` draws a dashed vertical line (a threshold)."""
    if not len(values):
        return empty(title)
    rc, fig, ax = _figure(5.5, 2.6)
    ax.hist(list(values), bins=bins, color=BLUE, log=log)
    if marker is not None:
        ax.axvline(marker[0], color=RED, linestyle="--", label=marker[1])
        ax.legend(frameon=False)
    _count_axis(ax.yaxis, log)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_axis_label(ylabel, log))
    ax.set_title(title)
    return _html_img(rc, fig, title)


def integer_bins(values: Sequence[int], most: int = 60) -> list[float]:
    """Histogram edges centred on integers, at most `most` bins (for counts such as words)."""
    lo, hi = min(values), max(values)
    step = max(1, math.ceil((hi - lo + 1) / most))
    return [lo - 0.5 + k * step for k in range((hi - lo) // step + 2)]


def rank_frequency(
    title: str, counts: Sequence[int], ylabel: str, cap: int = 0, cap_label: str = ""
) -> str:
    """Counts sorted descending against their rank on log-log axes; `cap` as a dashed line."""
    ranked = sorted((c for c in counts if c > 0), reverse=True)
    if not ranked:
        return empty(title)
    rc, fig, ax = _figure(5.5, 3)
    ax.plot(range(1, len(ranked) + 1), ranked, color=BLUE, drawstyle="steps-post")
    if cap:
        ax.axhline(cap, color=RED, linestyle="--", label=cap_label or f"cap {cap:,}")
        ax.legend(frameon=False)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _count_axis(ax.xaxis, True)
    _count_axis(ax.yaxis, True)
    ax.set_xlabel(_axis_label("rank", True))
    ax.set_ylabel(_axis_label(ylabel, True))
    ax.set_title(title)
    return _html_img(rc, fig, title)


def density(
    title: str, x: Sequence[float], y: Sequence[float], xlabel: str, ylabel: str, bins: int = 30
) -> str:
    """A 2-D histogram on log-log axes (darker: more points), e.g. image widths vs heights."""
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if a > 0 and b > 0]
    if not pairs:
        return empty(title)
    import numpy as np
    from matplotlib.colors import LogNorm

    xs, ys = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    lo = math.log10(min(xs.min(), ys.min()))
    hi = max(math.log10(max(xs.max(), ys.max())), lo + 1)
    edges = np.logspace(lo, hi, bins + 1)
    rc, fig, ax = _figure(4.2, 3.6)
    *_, image = ax.hist2d(
        xs, ys, bins=[edges, edges], cmap="Blues", norm=LogNorm(), cmin=1, rasterized=True
    )  # the cells as one embedded bitmap: small whatever the bins
    _count_axis(fig.colorbar(image, ax=ax, label="images (log scale)").ax.yaxis, True)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _count_axis(ax.xaxis, True)
    _count_axis(ax.yaxis, True)
    ax.set_xlabel(_axis_label(xlabel, True))
    ax.set_ylabel(_axis_label(ylabel, True))
    ax.set_title(title)
    return _html_img(rc, fig, title)
