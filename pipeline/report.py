"""The dataset card: `wit report OUT` writes `OUT/report.html`, one self-contained HTML page.

It reads what a build wrote (summary.json, manifest.json, the shard parquet tables and a few
samples of the first shards) and shows the funnel with drop reasons, samples per query (head and
tail, log scale), languages, image sizes and aspect ratios, caption lengths and a grid of
thumbnails with their captions. Plots are inline SVG (`pipeline.cardplots`). Every piece of web text
(captions, queries, URLs) is HTML-escaped: captions are untrusted.

    wit report wit-demo            # -> wit-demo/report.html
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from pipeline import cardplots, storage
from pipeline.text import display_text

__all__ = ["CardData", "load_card_data", "render_html", "write_report", "register"]

_COLUMNS = ["key", "caption", "queries", "language", "original_width", "original_height", "punsafe"]
_CSS = """body{font-family:system-ui,sans-serif;max-width:1180px;margin:2em auto;color:#222}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.plot{display:flex;flex-wrap:wrap;gap:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
figure{margin:0;font-size:12px}figure img{width:100%;height:140px;object-fit:cover}
figcaption{overflow-wrap:anywhere;max-height:5.2em;overflow:hidden}"""


@dataclass
class CardData:
    """Everything the card shows, read from one build output."""

    output: str
    summary: dict[str, Any]
    manifest: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    thumbs: list[tuple[bytes, str, str]] = field(default_factory=list)  # (jpeg, caption, url)


def _read_json(path: str) -> dict[str, Any]:
    with contextlib.suppress(FileNotFoundError):
        return json.loads(storage.read_bytes(path))  # type: ignore[no-any-return]
    return {}


def _thumbnail(image: bytes, side: int = 160) -> bytes:
    from PIL import Image

    from pipeline.imaging import thumbnail_jpeg

    with Image.open(io.BytesIO(image)) as img:
        return thumbnail_jpeg(img, side)


def _samples(tar_path: str, limit: int) -> list[tuple[bytes, str, str]]:
    """The first `limit` samples of a shard as (thumbnail, caption, url)."""
    found: dict[str, dict[str, bytes]] = {}
    with contextlib.closing(storage.open_read(tar_path)) as f:
        with tarfile.open(fileobj=f, mode="r|") as tar:
            for member in tar:
                key, _, ext = member.name.partition(".")
                if len(found) >= limit and key not in found:
                    break
                data = tar.extractfile(member)
                found.setdefault(key, {})[ext] = data.read() if data else b""
    return [
        (_thumbnail(s["jpg"]), s["txt"].decode("utf-8", "replace"), _url(s.get("json", b"{}")))
        for s in found.values()
        if "jpg" in s and "txt" in s
    ]


def _url(meta: bytes) -> str:
    with contextlib.suppress(ValueError):
        return str(json.loads(meta).get("url", ""))
    return ""


def load_card_data(output: str, thumbnails: int = 24) -> CardData:
    """Read summary, manifest, the shard tables and `thumbnails` samples of a build output."""
    data = CardData(
        output,
        _read_json(storage.join(output, "summary.json")),
        _read_json(storage.join(output, "manifest.json")),
    )
    shards_dir = storage.join(output, "shards")
    for shard in data.manifest.get("shards", []):
        table = storage.read_bytes(storage.join(shards_dir, shard["parquet"]))
        columns = [c for c in _COLUMNS if c in pq.read_schema(io.BytesIO(table)).names]
        data.rows += pq.read_table(io.BytesIO(table), columns=columns).to_pylist()
    for shard in data.manifest.get("shards", []):
        if len(data.thumbs) >= thumbnails:
            break
        tar = storage.join(shards_dir, shard["shard"])
        data.thumbs += _samples(tar, thumbnails - len(data.thumbs))
    return data


def _plots(data: CardData) -> list[tuple[str, str]]:
    rows, drops = data.rows, data.summary.get("drops", {})
    per_query = Counter(q for r in rows for q in (r["queries"] or []))
    widths = [r["original_width"] or 0 for r in rows]
    heights = [r["original_height"] or 0 for r in rows]
    captions = [r["caption"] or "" for r in rows]
    return [
        ("Funnel", cardplots.funnel_svg(data.summary.get("input", 0), drops)),
        ("Drop reasons", cardplots.drops_svg(drops)),
        ("Samples per query", cardplots.queries_svg(per_query)),
        ("Languages", cardplots.languages_svg(Counter(r["language"] or "" for r in rows))),
        ("Image sizes", cardplots.sizes_svg(widths, heights)),
        (
            "Caption lengths",
            cardplots.captions_svg([len(c) for c in captions], [len(c.split()) for c in captions]),
        ),
    ]


def _overview(data: CardData) -> str:
    s, shards = data.summary, data.manifest.get("shards", [])
    size_mb = sum(sh.get("bytes", 0) for sh in shards) / 1e6
    cells = [
        ("input candidates", s.get("input", 0)),
        ("samples in shards", s.get("kept", 0)),
        ("dropped", s.get("dropped", 0)),
        ("shards", f"{len(shards)} ({size_mb:.1f} MB of tar)"),
        ("accounting", "adds up" if s.get("balanced") else "DOES NOT ADD UP"),
    ]
    body = "".join(
        f"<tr><th>{html.escape(k)}</th><td class=n>{html.escape(str(v))}</td></tr>"
        for k, v in cells
    )
    return f"<table>{body}</table>"


def _esc(text: str) -> str:
    """Untrusted web text for the card: no bidi controls (they reorder what is shown), escaped."""
    return html.escape(display_text(text))


def _grid(thumbs: list[tuple[bytes, str, str]]) -> str:
    items = "".join(
        f'<figure><img alt="" src="data:image/jpeg;base64,{base64.b64encode(jpg).decode()}">'
        f'<figcaption title="{_esc(url)}">{_esc(caption)}</figcaption></figure>'
        for jpg, caption, url in thumbs
    )
    return f'<div class="grid">{items}</div>'


def _safety(data: CardData) -> str:
    from pipeline.safetyreport import safety_section

    policy = data.manifest.get("config", {}).get("download", {}).get("safety", {})
    return safety_section(data.summary, policy, data.rows)


def render_html(data: CardData) -> str:
    """The card as one HTML page (plots and thumbnails embedded; web text escaped)."""
    title = f"Dataset card: {data.output}"
    versions = ", ".join(f"{k} {v}" for k, v in sorted(data.manifest.get("versions", {}).items()))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        _overview(data),
        *(f"<h2>{html.escape(n)}</h2>{svg}" for n, svg in _plots(data)),
        f"<h2>Safety and consent</h2>{_safety(data)}",
        f"<h2>Samples ({len(data.thumbs)}, first shards)</h2>{_grid(data.thumbs)}",
        f"<p><small>{html.escape(versions)}</small></p></body></html>\n",
    ]
    return "\n".join(parts)


def write_report(output: str, path: str = "") -> str:
    """Render the card of build `output` into `path` (default `OUTPUT/report.html`)."""
    path = path or storage.join(output, "report.html")
    storage.write_bytes(path, render_html(load_card_data(output)).encode("utf-8"))
    return path


def _main(args: Any, extra: list[str]) -> int:
    from pipeline.preflight import check_file

    check_file(storage.join(args.output.rstrip("/"), "summary.json"), "OUTPUT (a build's folder)")
    print(write_report(args.output.rstrip("/"), args.html or ""))
    return 0


def register(sub: Any) -> None:
    """Add `wit report OUT` to the `wit` command."""
    p = sub.add_parser("report", help="Write the dataset card (HTML with plots) of a build.")
    p.add_argument("output", help="A build output directory (local or s3://).")
    p.add_argument("--html", default="", help="Where to write it (default: OUTPUT/report.html).")
    p.set_defaults(func=_main)
