"""The plots of the dataset card (`pipeline.report`): pure functions from numbers to inline SVG.

Each function takes plain Python data and returns one `<div class="plot">` holding one or two
SVG panels, drawn here in a few milliseconds (a matplotlib version cost 1.6 s of every build:
0.5 s to import, 1.1 s to render). The output is deterministic, scales with the page, and stays
small however large the dataset is: long series are binned (histograms, a 2-D density for image
sizes) or thinned (the rank-frequency curve). Web text (queries, languages) is shortened with
`label()` and XML-escaped.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Sequence

__all__ = [
    "label",
    "funnel_svg",
    "drops_svg",
    "queries_svg",
    "languages_svg",
    "sizes_svg",
    "captions_svg",
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
_FONT = "font-family:system-ui,sans-serif;font-size:11px"


def label(text: str, width: int = 28) -> str:
    """Untrusted text as a short one-line label (escape it with `_esc` when drawing)."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _plot(title: str, *panels: str) -> str:
    return f'<div class="plot" role="img" aria-label="{_esc(title)}">{"".join(panels)}</div>'


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" style="{_FONT};max-width:100%">'
        f'<text x="{width // 2}" y="16" text-anchor="middle" font-weight="bold">{_esc(title)}'
        "</text>"
    )
    return head + "".join(body) + "</svg>"


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = "#222") -> str:
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" fill="{fill}" '
        f'dominant-baseline="middle">{_esc(text)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> str:
    title = f"<title>{_esc(tip)}</title>" if tip else ""
    return (
        f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(max(w, 0))}" height="{_num(h)}" '
        f'fill="{fill}">{title}</rect>'
    )


def _empty(title: str) -> str:
    return _plot(title, _svg(560, 60, title, [_text(280, 40, "no samples", "middle", _GREY)]))


def _stages(drops: dict[str, dict[str, int]]) -> list[str]:
    known = [s for s in STAGE_ORDER if s in drops]
    return known + sorted(s for s in drops if s not in STAGE_ORDER)


def _hbars(
    title: str,
    rows: Sequence[tuple[str, float, float]],
    xlabel: str,
    color: str = _BLUE,
    log: bool = False,
    width: int = 720,
    label_width: int = 220,
) -> str:
    """Horizontal bars: (label, value, stacked extra drawn in red); values written at bar ends."""
    top, row_h = 28, 18
    plot_w = width - label_width - 90
    largest = max((v + e for _, v, e in rows), default=1) or 1
    scale = (
        (lambda v: math.log10(1 + v) / math.log10(1 + largest)) if log else (lambda v: v / largest)
    )
    body = []
    for i, (name, value, extra) in enumerate(rows):
        y = top + i * row_h
        if name == "…":  # a gap in a head-and-tail list
            body.append(_text(label_width - 6, y + row_h / 2, name, "end"))
            continue
        w = plot_w * scale(value)
        body.append(_text(label_width - 6, y + row_h / 2, name, "end"))
        body.append(_rect(label_width, y + 2, w, row_h - 4, color, f"{name}: {value:,}"))
        if extra:
            w2 = plot_w * scale(value + extra) - w
            body.append(_rect(label_width + w, y + 2, w2, row_h - 4, _RED, f"-{extra:,}"))
        note = f"{value:,}" + (f"  (-{extra:,})" if extra else "")
        body.append(_text(label_width + plot_w * scale(value + extra) + 4, y + row_h / 2, note))
    height = top + len(rows) * row_h + 22
    axis = xlabel + (" (log scale)" if log else "")
    body.append(_text(label_width + plot_w / 2, height - 9, axis, "middle", _GREY))
    return _svg(width, height, title, body)


def _columns(
    title: str, counts: Sequence[int], edges: Sequence[float], xlabel: str, width: int = 500
) -> str:
    """Vertical bars for a histogram: `counts[i]` between `edges[i]` and `edges[i + 1]`."""
    left, top, plot_w, plot_h = 50, 28, width - 70, 150
    largest = max(counts, default=1) or 1
    bar_w = plot_w / max(len(counts), 1)
    body = [
        _text(left - 6, top, f"{largest:,}", "end", _GREY),
        _text(left - 6, top + plot_h, "0", "end", _GREY),
    ]
    for i, count in enumerate(counts):
        h = plot_h * count / largest
        tip = f"{_num(edges[i])}–{_num(edges[i + 1])}: {count:,}"
        body.append(_rect(left + i * bar_w + 0.5, top + plot_h - h, bar_w - 1, h, _BLUE, tip))
    base = top + plot_h
    body.append(
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="{_GREY}"/>'
    )
    for frac in (0.0, 0.5, 1.0):
        value = edges[0] + frac * (edges[-1] - edges[0])
        body.append(_text(left + frac * plot_w, base + 12, _num(value), "middle", _GREY))
    body.append(_text(left + plot_w / 2, base + 30, xlabel, "middle", _GREY))
    return _svg(width, base + 42, title, body)


def _histogram(values: Sequence[float], bins: int) -> tuple[list[int], list[float]]:
    lo, hi = min(values), max(values)
    if hi <= lo:
        hi = lo + 1
    step = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / step), bins - 1)] += 1
    return counts, [lo + i * step for i in range(bins + 1)]


def funnel_svg(total: int, drops: dict[str, dict[str, int]]) -> str:
    """Candidates left after each stage (blue), and how many that stage dropped (red)."""
    rows, left = [("candidates", total, 0)], total
    for stage in _stages(drops):
        dropped = sum(drops[stage].values())
        left -= dropped
        rows.append((stage, left, dropped))
    return _plot("Funnel", _hbars("Funnel: candidates to samples", rows, "records"))


def drops_svg(drops: dict[str, dict[str, int]]) -> str:
    """Every drop reason, as a horizontal bar per (stage, reason), largest first."""
    rows = sorted(
        (
            (count, f"{stage} / {reason}")
            for stage, rs in drops.items()
            for reason, count in rs.items()
        ),
        key=lambda r: (-r[0], r[1]),
    )
    if not rows:
        return _empty("Drop reasons")
    bars = [(label(name, 40), count, 0) for count, name in rows]
    return _plot(
        "Drop reasons",
        _hbars("Drop reasons", bars, "records dropped", _RED, width=760, label_width=260),
    )


def _curve(counts: Sequence[int], width: int = 440) -> str:
    """The rank-frequency curve on log-log axes, thinned to at most ~200 log-spaced ranks."""
    left, top, plot_w, plot_h = 50, 28, width - 70, 200
    n, largest = len(counts), max(counts[0], 2)
    ranks = sorted({min(n, round(10 ** (i * math.log10(max(n, 2)) / 199))) for i in range(200)})
    x = lambda r: left + plot_w * math.log10(r) / math.log10(max(n, 2))  # noqa: E731
    y = lambda c: top + plot_h * (1 - math.log10(max(c, 1)) / math.log10(largest))  # noqa: E731
    points = " ".join(f"{_num(x(r))},{_num(y(counts[r - 1]))}" for r in ranks)
    base = top + plot_h
    body = [
        f'<polyline fill="none" stroke="{_BLUE}" stroke-width="1.5" points="{points}"/>',
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="{_GREY}"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="{_GREY}"/>',
        _text(left - 4, top, f"{counts[0]:,}", "end", _GREY),
        _text(left - 4, base, "1", "end", _GREY),
        _text(left, base + 12, "1", "middle", _GREY),
        _text(left + plot_w, base + 12, f"{n:,}", "middle", _GREY),
        _text(left + plot_w / 2, base + 30, "query rank (log) vs samples (log)", "middle", _GREY),
    ]
    return _svg(width, base + 42, f"Samples per query ({n:,} queries)", body)


def queries_svg(per_query: Counter[str], head: int = 12, tail: int = 8) -> str:
    """Samples per query: the rank-frequency curve (log-log) and the head and tail by name."""
    ranked = [(q, c) for q, c in per_query.most_common() if c > 0]
    if not ranked:
        return _empty("Samples per query")
    shown = ranked[:head] + ranked[head:][-tail:]
    rows = [(label(q), c, 0) for q, c in shown]
    if len(ranked) > head + tail:
        rows.insert(head, ("…", 0, 0))
    bars = _hbars(
        f"Head ({head}) and tail ({tail}) queries",
        rows,
        "samples",
        log=True,
        width=520,
        label_width=190,
    )
    return _plot("Samples per query", _curve([c for _, c in ranked]), bars)


def languages_svg(languages: Counter[str], top: int = 15) -> str:
    """Samples per detected caption language (the most common `top`, the rest as `other`)."""
    rows = [(label(lang or "unknown"), c, 0) for lang, c in languages.most_common(top) if c > 0]
    if not rows:
        return _empty("Caption languages")
    rest = sum(languages.values()) - sum(c for _, c, _ in rows)
    rows += [("other", rest, 0)] if rest else []
    counts = [c for _, c, _ in rows]
    wide = max(counts) > 20 * max(min(counts), 1)
    title = f"Caption languages ({len(languages)})"
    return _plot("Languages", _hbars(title, rows, "samples", log=wide, width=560, label_width=120))


def _density(widths: Sequence[int], heights: Sequence[int], width: int = 440) -> str:
    """Original sizes as a 2-D histogram on log axes (darker: more images)."""
    left, top, side, bins = 50, 28, 220, 24
    lo = math.log10(max(min(min(widths), min(heights)), 1))
    hi = max(math.log10(max(max(widths), max(heights))), lo + 1)
    cell = (hi - lo) / bins
    grid: Counter[tuple[int, int]] = Counter(
        (
            min(int((math.log10(w) - lo) / cell), bins - 1),
            min(int((math.log10(h) - lo) / cell), bins - 1),
        )
        for w, h in zip(widths, heights, strict=True)
    )
    most, px = max(grid.values()), side / bins
    body = []
    for (i, j), count in sorted(grid.items()):
        opacity = 0.15 + 0.85 * math.log1p(count) / math.log1p(most)
        body.append(
            f'<rect x="{_num(left + i * px)}" y="{_num(top + side - (j + 1) * px)}" width="{_num(px)}" '
            f'height="{_num(px)}" fill="{_BLUE}" fill-opacity="{opacity:.2f}"><title>{count:,}</title></rect>'
        )
    base = top + side
    body += [
        f'<rect x="{left}" y="{top}" width="{side}" height="{side}" fill="none" stroke="{_GREY}"/>',
        _text(left, base + 12, f"{10**lo:,.0f}", "middle", _GREY),
        _text(left + side, base + 12, f"{10**hi:,.0f}", "middle", _GREY),
        _text(left - 4, top, f"{10**hi:,.0f}", "end", _GREY),
        _text(left - 4, base, f"{10**lo:,.0f}", "end", _GREY),
        _text(
            left + side / 2,
            base + 30,
            "original width (px, log) vs height (px, log)",
            "middle",
            _GREY,
        ),
    ]
    return _svg(width, base + 42, "Original image sizes", body)


def sizes_svg(widths: Sequence[int], heights: Sequence[int]) -> str:
    """Original image sizes (2-D histogram, log axes) and aspect ratios (histogram)."""
    pairs = [(w, h) for w, h in zip(widths, heights, strict=True) if w > 0 and h > 0]
    if not pairs:
        return _empty("Original image sizes")
    widths, heights = [w for w, _ in pairs], [h for _, h in pairs]
    counts, edges = _histogram([w / h for w, h in pairs], 40)
    aspect = _columns("Aspect ratios", counts, edges, "aspect ratio (width / height)")
    return _plot("Image sizes", _density(widths, heights), aspect)


def captions_svg(lengths: Sequence[int], words: Sequence[int]) -> str:
    """Caption lengths in characters and in words (histograms)."""
    if not lengths:
        return _empty("Caption lengths")
    counts, edges = _histogram(list(lengths), 40)
    chars = _columns("Caption lengths", counts, edges, "caption length (characters)")
    lo, hi = min(words), max(words)
    per_word = Counter(words)
    word_counts = [per_word.get(n, 0) for n in range(lo, hi + 1)]
    toks = _columns("Caption words", word_counts, list(range(lo, hi + 2)), "caption length (words)")
    return _plot("Caption lengths", chars, toks)


def punsafe_svg(scores: Sequence[float], threshold: float) -> str:
    """Unsafe-content scores of the kept images (20 bins over [0, 1]); the threshold in the title."""
    if not scores:
        return _empty("Unsafe-content scores")
    counts = [0] * 20
    for v in scores:
        counts[min(int(v * 20), 19)] += 1
    edges = [i / 20 for i in range(21)]
    title = f"Unsafe-content scores (punsafe; threshold {threshold:g})"
    return _columns(title, counts, edges, "punsafe")
