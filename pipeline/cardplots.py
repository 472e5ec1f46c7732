"""The plots of the dataset card (`pipeline.report`), drawn by the shared `pipeline.plots` path.

Each function takes plain Python data and returns HTML (one or two `<img>` SVG data URIs in a
`<div class="plot">`): the funnel, drop reasons, samples per query (rank-frequency with the
balancing cap, head and tail by name), caption languages, original image sizes and aspect
ratios, caption lengths. Web text (queries, languages) is shortened with `label()` and drawn as
plain text inside the SVG; the `alt` text is escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pipeline import plots
from pipeline.plots import label

__all__ = [
    "label",
    "funnel_svg",
    "drops_svg",
    "queries_svg",
    "languages_svg",
    "sizes_svg",
    "captions_svg",
    "punsafe_svg",
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


def _plot(*images: str) -> str:
    return f'<div class="plot">{"".join(images)}</div>'


def _stages(drops: dict[str, dict[str, int]]) -> list[str]:
    known = [s for s in STAGE_ORDER if s in drops]
    return known + sorted(s for s in drops if s not in STAGE_ORDER)


def funnel_svg(total: int, drops: dict[str, dict[str, int]]) -> str:
    """Candidates left after each stage (blue), and how many that stage dropped (red)."""
    names, left, dropped, remaining = ["candidates"], [total], [0], total
    for stage in _stages(drops):
        count = sum(drops[stage].values())
        remaining -= count
        names.append(stage)
        left.append(remaining)
        dropped.append(count)
    return _plot(
        plots.bars(
            "Funnel: candidates to samples",
            names,
            left,
            "records left",
            extra=dropped,
            extra_label="dropped at this stage",
        )
    )


def drops_svg(drops: dict[str, dict[str, int]]) -> str:
    """Every drop reason, as a horizontal bar per (stage, reason), largest first."""
    rows = sorted(
        ((n, f"{stage} / {reason}") for stage, rs in drops.items() for reason, n in rs.items()),
        key=lambda r: (-r[0], r[1]),
    )
    counts = [n for n, _ in rows]
    wide = bool(counts) and max(counts) > 50 * max(min(counts), 1)
    names = [name for _, name in rows]
    return _plot(
        plots.bars("Drop reasons", names, counts, "records dropped", log=wide, color=plots.RED)
    )


def queries_svg(per_query: Counter[str], cap: int = 0, head: int = 12, tail: int = 8) -> str:
    """Samples per query: rank-frequency (log-log, the cap drawn) and the head and tail by name."""
    ranked = [(q, c) for q, c in per_query.most_common() if c > 0]
    curve = plots.rank_frequency(
        f"Samples per query ({len(ranked):,} queries)",
        [c for _, c in ranked],
        "samples",
        cap=cap,
        cap_label=f"balancing cap t = {cap:,}",
    )
    if not ranked:
        return _plot(curve)
    shown = ranked if len(ranked) <= head + tail else ranked[:head] + ranked[-tail:]
    names = [label(q) for q, _ in shown]
    if len(shown) < len(ranked):
        names[head] = f"… {names[head]}"  # the tail starts here
    title = "Queries by samples" + ("" if shown is ranked else f": head {head}, tail {tail}")
    return _plot(curve, plots.bars(title, names, [c for _, c in shown], "samples", log=True))


def languages_svg(languages: Counter[str], top: int = 15) -> str:
    """Samples per detected caption language (the most common `top`, the rest as `other`)."""
    rows = [(label(lang or "unknown"), c) for lang, c in languages.most_common(top) if c > 0]
    rest = sum(languages.values()) - sum(c for _, c in rows)
    rows += [("other", rest)] if rest and rows else []
    counts = [c for _, c in rows]
    wide = bool(counts) and max(counts) > 20 * max(min(counts), 1)
    title = f"Caption languages ({len(languages)})"
    return _plot(plots.bars(title, [n for n, _ in rows], counts, "samples", log=wide))


def sizes_svg(widths: Sequence[int], heights: Sequence[int]) -> str:
    """Original image sizes (2-D histogram, log axes) and aspect ratios (histogram)."""
    pairs = [(w, h) for w, h in zip(widths, heights, strict=True) if w > 0 and h > 0]
    sizes = plots.density(
        "Original image sizes",
        [w for w, _ in pairs],
        [h for _, h in pairs],
        "original width (px)",
        "original height (px)",
    )
    aspect = plots.histogram(
        "Aspect ratios", [w / h for w, h in pairs], "aspect ratio (width / height)", ylabel="images"
    )
    return _plot(sizes, aspect)


def captions_svg(lengths: Sequence[int], words: Sequence[int]) -> str:
    """Caption lengths in characters and in words (histograms)."""
    chars = plots.histogram(
        "Caption lengths", list(lengths), "caption length (characters)", ylabel="captions"
    )
    bins = plots.integer_bins(words) if words else 10
    toks = plots.histogram(
        "Caption words", list(words), "caption length (words)", bins=bins, ylabel="captions"
    )
    return _plot(chars, toks)


def punsafe_svg(scores: Sequence[float], threshold: float) -> str:
    """Unsafe-content scores of the kept images (20 bins over [0, 1]), the threshold marked."""
    return plots.histogram(
        "Unsafe-content scores (punsafe)",
        list(scores),
        "punsafe",
        bins=[i / 20 for i in range(21)],
        marker=(threshold, f"threshold {threshold:g}"),
        ylabel="images",
    )
