"""Safety and consent accounting: per-shard counts, the summary's `safety` block, the card section.

`shard_safety(records)` is stored in every shard's stats; `summary_safety(drops, shards)` adds
them up with the safety and consent drops into `summary.json`; `safety_section(...)` renders
the dataset card's section. Listed (hash-blocked) images are counted, never shown.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from pipeline.schema import Reason, Stage

__all__ = ["shard_safety", "summary_safety", "safety_section", "format_safety", "SAFETY_COLUMNS"]

SAFETY_COLUMNS = ["punsafe", "faces", "faces_blurred"]
_COUNTS = ("scored", "with_faces", "faces", "blurred")


def shard_safety(records: Iterable[Any]) -> dict[str, int]:
    """Images scored, images with faces, faces found, and images stored blurred, in one shard."""
    counts = dict.fromkeys(_COUNTS, 0)
    for r in records:
        counts["scored"] += r.punsafe is not None
        counts["with_faces"] += bool(r.faces)
        counts["faces"] += len(r.faces)
        counts["blurred"] += bool(r.faces_blurred)
    return counts


def summary_safety(by_stage: dict[str, dict[str, int]], shards: Sequence[dict]) -> dict[str, Any]:
    """The summary's `safety` block: hash-list and unsafe drops, consent refusals per signal
    (whatever stage refused them), and the shards' face and score counts, added up."""
    consent: dict[str, int] = {}
    for reasons in by_stage.values():
        for reason, count in reasons.items():
            if reason.startswith("consent/") or reason == Reason.OPTED_OUT:
                consent[reason] = consent.get(reason, 0) + count
    safety = by_stage.get(Stage.SAFETY, {})
    in_shards = {k: sum(s.get("safety", {}).get(k, 0) for s in shards) for k in _COUNTS}
    return {
        "hash_blocklist": safety.get(Reason.HASH_BLOCKLIST, 0),
        "unsafe_dropped": safety.get(Reason.UNSAFE, 0),
        "consent": dict(sorted(consent.items())),
        "consent_refused": sum(consent.values()),
        **{f"kept_{k}": v for k, v in in_shards.items()},
    }


def format_safety(summary: dict[str, Any]) -> str:
    """One line of safety and consent counts for the end of a build."""
    s = summary.get("safety", {})
    consent = ", ".join(f"{k} {v}" for k, v in s.get("consent", {}).items()) or "none"
    return (
        f"safety: {s.get('hash_blocklist', 0)} removed by hash lists, {s.get('unsafe_dropped', 0)} "
        f"dropped as unsafe, {s.get('kept_faces', 0)} faces in {s.get('kept_with_faces', 0)} kept "
        f"images ({s.get('kept_blurred', 0)} blurred); consent refusals: {consent}"
    )


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(k)}</th><td class=n>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def safety_section(
    summary: dict[str, Any], policy: dict[str, Any], rows: list[dict[str, Any]]
) -> str:
    """The card's safety section: counts per reason, the punsafe histogram, faces, consent."""
    from pipeline import cardplots

    s = summary.get("safety") or summary_safety(summary.get("drops", {}), [])
    threshold = float(policy.get("unsafe_threshold", 0.5))
    scores = [r["punsafe"] for r in rows if r.get("punsafe") is not None]
    tagged = sum(v >= threshold for v in scores)
    counts = [
        ("removed by hash lists (never shown)", s.get("hash_blocklist", 0)),
        ("dropped as unsafe", s.get("unsafe_dropped", 0)),
        (f"kept and tagged unsafe (punsafe >= {threshold:g})", tagged),
        ("kept images scored", len(scores)),
        ("kept images with faces", s.get("kept_with_faces", 0)),
        ("faces found", s.get("kept_faces", 0)),
        ("images stored with faces blurred", s.get("kept_blurred", 0)),
        ("consent refusals, all signals", s.get("consent_refused", 0)),
        *((f"  {reason}", n) for reason, n in s.get("consent", {}).items()),
    ]
    desc = (
        f"Policy: unsafe {html.escape(str(policy.get('unsafe_policy', '?')))} at "
        f"{threshold:g} with {html.escape(str(policy.get('unsafe_model', '?')))}; faces blurred: "
        f"{html.escape(str(policy.get('blur_faces', '?')))}; hash lists: "
        f"{html.escape(', '.join(policy.get('hash_lists', {})) or 'none')}."
    )
    hist = cardplots.punsafe_svg(scores, threshold)
    return f"<p>{desc}</p>{_table(counts)}<div class=plot>{hist}</div>"
