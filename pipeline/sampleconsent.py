"""The sample web's consent and safety sites: one per opt-out signal, and a listed image.

Planted after the main pages with their own random stream (the rest of the sample web stays
byte-identical):

- `www.sample.test/pages/consent-meta.html`: `<meta name="robots" content="noai, noimageai">`
  (also in its WAT record's `Head/Metas`): its images -> `consent/robots_meta`;
- `tdm.sample.test`: `/.well-known/tdmrep.json` reserves `/reserved/*` -> `consent/tdmrep_json`;
  `/open/*` stays allowed;
- `cdn.sample.test/img/tdm-*.jpg`: `tdm-reservation: 1` header -> `consent/tdm_reservation`;
- `norobots.sample.test`: robots.txt disallows `/private-img/` for `wit-pipeline` ->
  `consent/robots_txt`;
- `www.sample.test/pages/consent-tdm.html` (pages.txt only): the page itself is served with
  `tdm-reservation: 1` -> `consent/tdm_reservation` at the read stage;
- `cdn.sample.test/img/listed-0.jpg`: an image whose PDQ hash is on `blocklist.txt` (the
  demo passes it as `--hash_blocklist`) -> `safety/hash_blocklist`; `listed-1.jpg` is on no
  list (tests list it by MD5 / SHA-1). Both have captions no other image has.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from pipeline.sampleimages import encode, render_picture

__all__ = ["plant_consent", "CONSENT_CASES", "BLOCKLIST", "TDM_PAGE"]

TDM_HOST = "tdm.sample.test"
ROBOTS_HOST = "norobots.sample.test"
BLOCKLIST = "blocklist.txt"
TDM_PAGE = "/pages/consent-tdm.html"  # served with `tdm-reservation: 1`; in pages.txt only
CONSENT_CASES = ("robots_meta", "tdmrep_json", "tdm_reservation", "robots_txt", "consent_ok")


def _picture(web: Any, rng: random.Random, host: str, path: str) -> tuple[str, str]:
    img, caption = render_picture(rng, rng.randint(260, 420), rng.randint(200, 300))
    return web.add(host, path, encode(img, "JPEG", quality=85)), caption


def _signals(web: Any, rng: random.Random, per_case: int) -> list[tuple[str, str]]:
    """The images of the consent page, one group per signal, noted in truth.json."""
    tdmrep = [{"location": "/reserved/*", "tdm-reservation": 1},
              {"location": "/*", "tdm-reservation": 0}]  # fmt: skip
    web.add(TDM_HOST, "/.well-known/tdmrep.json", json.dumps(tdmrep).encode())
    web.add(ROBOTS_HOST, "/robots.txt", b"User-agent: wit-pipeline\nDisallow: /private-img/\n")
    web.routes["robots5xx.sample.test/robots.txt"] = {"status": 503}  # RFC 9309: refuse all
    links = []
    for i in range(per_case):
        cases = {
            "tdmrep_json": (TDM_HOST, f"/reserved/{i:03d}.jpg"),
            "tdm_reservation": ("cdn.sample.test", f"/img/tdm-{i:03d}.jpg"),
            "robots_txt": (ROBOTS_HOST, f"/private-img/{i:03d}.jpg"),
            "consent_ok": (TDM_HOST, f"/open/{i:03d}.jpg"),
        }
        for case, (host, path) in cases.items():
            url, caption = _picture(web, rng, host, path)
            if case == "tdm_reservation":
                web.routes[f"{host}{path}"] = {"headers": {"tdm-reservation": "1"}}
            web.note(case, url)
            links.append((url, caption))
    return links


def _page(title: str, links: list[tuple[str, str]], robots: str = "") -> bytes:
    from html import escape

    meta = f'<meta name="robots" content="{escape(robots)}">' if robots else ""
    imgs = "\n".join(f'<p><img src="{escape(u)}" alt="{escape(a)}"></p>' for u, a in links)
    return (f"<!doctype html><html><head><meta charset='utf-8'>{meta}<title>{escape(title)}"
            f"</title></head><body>\n{imgs}\n</body></html>\n").encode()  # fmt: skip


def plant_consent(web: Any, seed: int, per_case: int = 3) -> None:
    """Add the consent pages, their hosts and the listed image to the sample web `web`."""
    from pipeline.hashlist import list_lines

    rng = random.Random(seed * 7919 + 16)
    links = _signals(web, rng, per_case)
    for i in range(2):  # listed-0 is on blocklist.txt; tests list listed-1 by MD5 / SHA-1
        url, caption = _picture(web, rng, "cdn.sample.test", f"/img/listed-{i}.jpg")
        web.note(f"hash_listed_{i}", url)
        links.append((url, f"{caption} (planted listed image {i})"))  # a caption seen nowhere else
    listed = links[-2][0]
    page = "http://www.sample.test/pages/consent-signals.html"
    web.pages.append((page, links))
    web.add("www.sample.test", "/pages/consent-signals.html", _page("Consent signals", links))
    meta_links = [_picture(web, rng, "cdn.sample.test", f"/img/meta-{i:03d}.jpg") for i in range(per_case)]  # fmt: skip
    for url, _ in meta_links:
        web.note("robots_meta", url)
    meta_page = "http://www.sample.test/pages/consent-meta.html"
    web.pages.append((meta_page, meta_links))
    web.add(
        "www.sample.test", "/pages/consent-meta.html", _page("No AI", meta_links, "noai, noimageai")
    )
    web.add("www.sample.test", TDM_PAGE, _page("Reserved", meta_links[:1]))  # live page lists only
    web.routes[f"www.sample.test{TDM_PAGE}"] = {"headers": {"tdm-reservation": "1"}}
    lines = list_lines([web.files[listed.split("://", 1)[1]]], ("pdq",))
    with open(os.path.join(web.root, BLOCKLIST), "w") as f:
        f.write("# sample web: one planted image, by its PDQ hash\n" + "\n".join(lines) + "\n")
