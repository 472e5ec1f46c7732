"""Consent signals of the web's AI opt-outs, each refusal its own reason (`consent/...`).

- TDM Reservation Protocol (W3C TDMRep community group): the `tdm-reservation: 1` response
  header (checked by the fetcher on every image, and on the page in WAT/WARC/live pages), and
  the host's `/.well-known/tdmrep.json` (rules `{"location": pattern, "tdm-reservation": 0|1}`;
  the first rule whose location matches the path decides), fetched once per host and worker.
- robots meta tags of the page (`<meta name="robots|wit-pipeline" content="noai, noimageai">`,
  and the page's `X-Robots-Tag` header), from WAT `Head/Metas`, WARC HTML and live pages:
  they apply to every image of the page.
- robots.txt for the image URL itself (our user-agent token), with `--respect_robots`.

    checker = ConsentChecker(fetcher, ConsentConfig())
    checker.refusal("http://cdn.example/a.jpg")   # -> (reason, detail) or None
    page_refusal(headers, metas)                  # -> (reason, detail) or None
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pipeline.netpolicy import USER_AGENT_TOKEN, opted_out
from pipeline.schema import Reason

__all__ = [
    "ConsentConfig",
    "ConsentChecker",
    "tdm_reserved",
    "tdmrep_rules",
    "tdmrep_reserves",
    "meta_refuses",
    "page_refusal",
    "wat_refusal",
    "refuse_all",
]

TDMREP_PATH = "/.well-known/tdmrep.json"


@dataclass(frozen=True)
class ConsentConfig:
    """Which opt-out signals the crawler honours (all of them by default)."""

    respect_robots: bool = True  # robots.txt for image URLs, robots meta tags of pages
    respect_tdmrep: bool = True  # tdm-reservation headers and /.well-known/tdmrep.json


def tdm_reserved(values: Iterable[str]) -> bool:
    """Whether `tdm-reservation` header values reserve the resource (the value `1`)."""
    return any(str(v).strip() == "1" for v in values)


def tdmrep_rules(body: bytes) -> list[tuple[re.Pattern[str], bool]]:
    """The (location pattern, reserved) rules of a tdmrep.json; [] when it is not valid."""
    try:
        entries = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    rules = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("location"), str):
            rules.append((_location(entry["location"]), str(entry.get("tdm-reservation")) == "1"))
    return rules


def _location(pattern: str) -> re.Pattern[str]:
    """A TDMRep location (robots.txt path syntax: `*` any run, a final `$` anchors the end)."""
    anchored = pattern.endswith("$")
    body = re.escape(pattern.rstrip("$") or "/").replace(r"\*", ".*")
    return re.compile(body + ("$" if anchored else ""))


def tdmrep_reserves(rules: list[tuple[re.Pattern[str], bool]], url: str) -> bool:
    """Whether the first rule matching the URL's path (and query) reserves it."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    for pattern, reserved in rules:
        if pattern.match(path):
            return reserved
    return False


def meta_refuses(metas: Iterable[tuple[str, str]], token: str = USER_AGENT_TOKEN) -> bool:
    """Whether (name, content) meta tags opt the page's images out (`robots` or our token)."""
    names = ("robots", token.lower())
    return opted_out([c for n, c in metas if str(n).strip().lower() in names], token)


def page_refusal(
    headers: dict[str, Any], metas: Iterable[tuple[str, str]], cfg: ConsentConfig | None = None
) -> tuple[str, str] | None:
    """Why a page's images may not be used, from its response headers and meta tags, or None."""
    cfg = cfg or ConsentConfig()
    lower = {str(k).lower(): v for k, v in (headers or {}).items()}

    def values(name: str) -> list[str]:
        value = lower.get(name, [])
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    if cfg.respect_tdmrep and tdm_reserved(values("tdm-reservation")):
        return Reason.TDM_RESERVATION, "page header tdm-reservation: 1"
    if cfg.respect_robots and opted_out(values("x-robots-tag")):
        return Reason.ROBOTS_META, "page header X-Robots-Tag"
    if cfg.respect_robots and meta_refuses(metas):
        return Reason.ROBOTS_META, "page meta robots"
    return None


def _dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or {} where a level is missing or not a dict (WAT is untrusted)."""
    for key in keys:
        value = value.get(key, {}) if isinstance(value, dict) else {}
    return value


def wat_refusal(payload: dict, cfg: ConsentConfig | None = None) -> tuple[str, str] | None:
    """`page_refusal` of a WAT record: its HTTP headers and `HTML-Metadata/Head/Metas`."""
    meta = _dig(payload, "Envelope", "Payload-Metadata", "HTTP-Response-Metadata")
    metas = _dig(meta, "HTML-Metadata", "Head").get("Metas", []) if isinstance(meta, dict) else []
    pairs = [
        (str(m.get("name", "")), str(m.get("content", "")))
        for m in (metas if isinstance(metas, list) else [])
        if isinstance(m, dict)
    ]
    headers = _dig(meta, "Headers")
    return page_refusal(headers if isinstance(headers, dict) else {}, pairs, cfg)


def refuse_all(records: Iterable[Any], refusal: tuple[str, str] | None) -> Iterable[Any]:
    """The page's candidates, each rejected at the read stage when the page refuses consent."""
    from pipeline.schema import Stage, reject

    for record in records:
        yield reject(record, Stage.READ, *refusal) if refusal else record


class ConsentChecker:
    """Per-host robots.txt and tdmrep.json (fetched once per host and worker; thread-safe)."""

    def __init__(self, fetcher: Any, cfg: ConsentConfig) -> None:
        self.fetcher, self.cfg = fetcher, cfg
        self._lock = threading.Lock()
        self._site_locks: dict[str, threading.Lock] = {}
        self._tdmrep: dict[str, list] = {}
        self._robots: dict[str, Any] = {}

    def _once(self, site: str, fn: Callable[[], Any]) -> Any:
        """Run `fn` holding the site's lock: the first thread fetches, the others wait for it."""
        with self._lock:
            lock = self._site_locks.setdefault(site, threading.Lock())
        with lock:
            return fn()

    def _rules(self, site: str) -> list:
        if site not in self._tdmrep:
            result = self.fetcher.fetch(site + TDMREP_PATH, accept="application/json")
            self._tdmrep[site] = [] if result.reason else tdmrep_rules(result.body)
        return self._tdmrep[site]

    def _robots_allow(self, site: str, url: str) -> bool:
        """robots.txt of the image's host; as RFC 9309, a 4xx allows all and a 5xx refuses all.
        A host the fetcher cannot reach at all (address policy, DNS, connect) is left to the
        image fetch, which records that failure as its own reason."""
        import urllib.robotparser

        if site not in self._robots:
            rules = urllib.robotparser.RobotFileParser(site + "/robots.txt")
            result = self.fetcher.fetch(site + "/robots.txt", accept="text/plain")
            if result.reason:  # unreachable (status 0) or 4xx: allowed; 5xx: refused
                rules.allow_all, rules.disallow_all = result.status < 500, result.status >= 500
            else:
                rules.parse(result.body.decode("utf-8", "replace").splitlines())
            self._robots[site] = rules
        return bool(self._robots[site].can_fetch(USER_AGENT_TOKEN, url))

    def refusal(self, url: str) -> tuple[str, str] | None:
        """Why the image at `url` may not be fetched for AI training, or None."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None  # the fetcher records what is wrong with the URL
        site = f"{parts.scheme}://{parts.netloc}"
        if self.cfg.respect_tdmrep and tdmrep_reserves(self._once(site, lambda: self._rules(site)), url):  # fmt: skip
            return Reason.TDMREP_JSON, f"{TDMREP_PATH} reserves the path"
        if self.cfg.respect_robots and not self._once(site, lambda: self._robots_allow(site, url)):
            return Reason.ROBOTS_TXT, "robots.txt disallows the image URL"
        return None
