"""A Common Crawl-shaped WAT file for timing the whole job (minimal; seeded, byte-identical).

    .venv/bin/python bench/ccwat.py out.warc.wat.gz --pages 2000

Like a real WAT: three JSON metadata records per page (request, response, metadata), the
response's `HTML-Metadata` with head metas, scripts, dozens of `A@/href` links and a few to
tens of `IMG@/src` links (relative and absolute, some alts empty or boilerplate), so the reader
and the text filters see Common Crawl's mix. Real files are ~1 GB uncompressed per 20k pages;
this one is smaller per page (fewer headers and metas) but has the same record structure.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import uuid

from warcio.warcwriter import WARCWriter

__all__ = ["write_wat"]

_WORDS = (
    "red blue garden house river city photo summer winter old new family trip mountain lake "
    "dog cat car street market table chair kitchen beach sunset forest bridge church museum "
    "festival concert team game player flower tree bird coffee book store shop sale vintage"
).split()
_VOCABULARY = [_WORDS]  # the words of captions and paths (write_wat's `words`)
_ALTS = ("", "", "image", "logo", "click here", "icon")  # what many real alts look like


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(_VOCABULARY[0]) for _ in range(rng.randint(lo, hi)))


def _links(rng: random.Random, host: str) -> list[dict]:
    links = [
        {
            "path": "A@/href",
            "url": f"/{_text(rng, 1, 3).replace(' ', '-')}",
            "text": _text(rng, 1, 4),
        }
        for _ in range(rng.randint(20, 80))
    ]
    for _ in range(max(1, int(rng.expovariate(1 / 13)))):
        name = f"{_text(rng, 1, 2).replace(' ', '_')}-{rng.randrange(10**6)}"
        ext = rng.choice((".jpg", ".jpg", ".jpeg", ".png", ".webp", ".gif", ".svg"))
        url = rng.choice((f"/img/{name}{ext}", f"https://cdn.{host}/{name}{ext}", f"{name}{ext}"))
        url = "/static/logo.png" if rng.random() < 0.1 else url  # URLs recur across pages
        alt = rng.choice(_ALTS) if rng.random() < 0.45 else _text(rng, 2, 9)
        links.append({"path": "IMG@/src", "url": url, "alt": alt})
    rng.shuffle(links)
    return links


def _envelope(kind: str, uri: str, extra: dict) -> dict:
    meta = {"WARC-Type": kind, "WARC-Target-URI": uri, "WARC-Date": "2026-01-01T00:00:00Z"}
    return {"Container": {"Filename": "CC-MAIN-x.warc.gz", "Compressed": True},
            "Envelope": {"Format": "WARC", "WARC-Header-Metadata": meta, **extra}}  # fmt: skip


def _page_records(rng: random.Random, i: int) -> list[dict]:
    host = f"site{rng.randrange(500)}.example.com"
    uri = f"https://{host}/{_text(rng, 1, 3).replace(' ', '/')}/{i}"
    html = {
        "Head": {"Title": _text(rng, 3, 10), "Metas": [
            {"name": "description", "content": _text(rng, 10, 30)},
            {"name": "viewport", "content": "width=device-width"}],
            "Scripts": [{"path": "SCRIPT@/src", "url": f"/js/app{k}.js"} for k in range(4)]},
        "Links": _links(rng, host),
    }  # fmt: skip
    response = {"HTTP-Response-Metadata": {
        "Response-Message": {"Status": "200", "Version": "HTTP/1.1"},
        "Headers": {"Content-Type": "text/html; charset=UTF-8", "Server": "nginx"},
        "HTML-Metadata": html}}  # fmt: skip
    return [
        _envelope("request", uri, {"Payload-Metadata": {"HTTP-Request-Metadata": {}}}),
        _envelope("response", uri, {"Payload-Metadata": response}),
        _envelope("metadata", uri, {"Payload-Metadata": {"WARC-Metadata-Metadata": {}}}),
    ]


def write_wat(path: str, pages: int, seed: int = 0, words: tuple[str, ...] = _WORDS) -> None:
    """Write a WAT file of `pages` pages (3 records each, captions from `words`) to `path`."""
    rng = random.Random(seed)
    _VOCABULARY[0] = words
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i in range(pages):
            for payload in _page_records(rng, i):
                body = json.dumps(payload).encode()
                record = writer.create_warc_record(
                    payload["Envelope"]["WARC-Header-Metadata"]["WARC-Target-URI"],
                    "metadata",
                    payload=io.BytesIO(body),
                    length=len(body),
                    warc_content_type="application/json",
                    warc_headers_dict={
                        "WARC-Date": "2026-01-01T00:00:00Z",
                        "WARC-Record-ID": f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}>",
                    },
                )
                writer.write_record(record)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    write_wat(args.path, args.pages, args.seed)
