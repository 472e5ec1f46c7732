"""Page lists: fetch HTML pages live (honouring robots.txt) and extract their images.

    robots = RobotsCache(fetcher)
    for record in read_page("http://example.com/a.html", fetcher, robots): ...

A page that cannot be used still leaves one row (stage `read`): `robots_disallowed`,
`page_http_404`, `page_not_html`, ... so the accounting keeps every input line.
"""

from __future__ import annotations

import threading
import urllib.robotparser
from collections.abc import Iterator
from urllib.parse import urlsplit

from pipeline.consent import ConsentConfig, page_refusal, refuse_all
from pipeline.fetch import Fetcher
from pipeline.htmlimages import extract_page
from pipeline.netpolicy import USER_AGENT_TOKEN
from pipeline.schema import Reason, Record, Stage, reject

__all__ = ["RobotsCache", "read_page"]

_HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"


class RobotsCache:
    """robots.txt rules per site, fetched once per worker through the (safe) fetcher.

    As RFC 9309 says: a 4xx robots.txt allows everything; an unreachable one (5xx, network
    error) disallows everything.
    """

    def __init__(self, fetcher: Fetcher, agent: str = USER_AGENT_TOKEN) -> None:
        self.fetcher, self.agent = fetcher, agent
        self._lock = threading.Lock()
        self._rules: dict[str, urllib.robotparser.RobotFileParser] = {}

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets our agent fetch `url`."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            rules = self._rules.get(site)
        if rules is None:
            rules = self._load(site)
            with self._lock:
                self._rules[site] = rules
        return rules.can_fetch(self.agent, url)

    def _load(self, site: str) -> urllib.robotparser.RobotFileParser:
        rules = urllib.robotparser.RobotFileParser(site + "/robots.txt")
        result = self.fetcher.fetch(site + "/robots.txt", accept="text/plain")
        if result.reason and 400 <= result.status < 500:
            rules.allow_all = True
        elif result.reason:
            rules.disallow_all = True
        else:
            rules.parse(result.body.decode("utf-8", "replace").splitlines())
        return rules


def _page_reject(url: str, source: str, reason: str, detail: str = "") -> Record:
    return reject(
        Record(url=url, caption="", page_url=url, source=source), Stage.READ, reason, detail
    )


def read_page(
    url: str,
    fetcher: Fetcher,
    robots: RobotsCache,
    source: str = "",
    consent: ConsentConfig | None = None,
) -> Iterator[Record]:
    """Yield a candidate per `<img>` of the page at `url`, or one row saying why there are none."""
    source = source or url
    if not robots.allowed(url):
        yield _page_reject(url, source, Reason.ROBOTS_DISALLOWED)
        return
    result = fetcher.fetch(url, accept=_HTML_ACCEPT)
    if result.reason:
        reason = result.reason if result.reason.startswith("consent/") else f"page_{result.reason}"
        yield _page_reject(url, source, reason, result.detail)
        return
    if b"<" not in result.body[:1024] or "html" not in (result.content_type or "html").lower():
        yield _page_reject(url, source, Reason.PAGE_NOT_HTML, result.content_type)
        return
    images, metas = extract_page(result.body, result.final_url or url, result.content_type)
    if not images:
        yield _page_reject(url, source, Reason.PAGE_WITHOUT_IMAGES)
    records = (Record(url=u, caption=alt, page_url=url, source=source) for u, alt in images)
    yield from refuse_all(records, page_refusal({}, metas, consent))
