"""Consent signals: TDMRep headers and tdmrep.json, robots meta tags, robots.txt for images."""

from __future__ import annotations

import json

from pipeline.consent import (
    ConsentChecker,
    ConsentConfig,
    meta_refuses,
    page_refusal,
    tdm_reserved,
    tdmrep_reserves,
    tdmrep_rules,
    wat_refusal,
)
from pipeline.fetch import FetchConfig, Fetcher
from pipeline.htmlimages import extract_page
from pipeline.netpolicy import parse_resolve
from pipeline.pages import RobotsCache, read_page
from pipeline.webarchive import wat_payload


def test_tdm_reservation_header_values():
    assert tdm_reserved(["1"]) and tdm_reserved([" 1 "]) and tdm_reserved(["0", "1"])
    assert not tdm_reserved(["0"]) and not tdm_reserved([]) and not tdm_reserved(["yes"])


def test_tdmrep_json_first_matching_location_decides():
    rules = tdmrep_rules(json.dumps([
        {"location": "/img/free/*", "tdm-reservation": 0},
        {"location": "/img/*", "tdm-reservation": 1},
        {"location": "/exact.jpg$", "tdm-reservation": 1},
    ]).encode())  # fmt: skip
    assert tdmrep_reserves(rules, "http://h.test/img/a.jpg")
    assert not tdmrep_reserves(rules, "http://h.test/img/free/a.jpg")
    assert tdmrep_reserves(rules, "http://h.test/exact.jpg")
    assert not tdmrep_reserves(rules, "http://h.test/exact.jpg?x=1")
    assert not tdmrep_reserves(rules, "http://h.test/other.jpg")
    for junk in (b"{not json", b'{"location": "/"}', b"[1, 2]", b"\xff\xfe"):
        assert tdmrep_rules(junk) == []


def test_robots_meta_for_everyone_or_our_agent_only():
    assert meta_refuses([("robots", "noai, noimageai")])
    assert meta_refuses([("ROBOTS", "noimageai")]) and meta_refuses([("wit-pipeline", "noai")])
    assert not meta_refuses([("otherbot", "noai")]) and not meta_refuses([("robots", "nofollow")])
    assert not meta_refuses([("description", "noai")])


def test_page_refusal_per_signal_and_policy():
    assert page_refusal({"TDM-Reservation": "1"}, [])[0] == "consent/tdm_reservation"
    assert page_refusal({"X-Robots-Tag": ["noai"]}, [])[0] == "consent/robots_meta"
    assert page_refusal({}, [("robots", "noai")])[0] == "consent/robots_meta"
    off = ConsentConfig(respect_robots=False, respect_tdmrep=False)
    assert page_refusal({"tdm-reservation": "1"}, [("robots", "noai")], off) is None


def test_meta_tags_reach_the_wat_and_html_readers():
    html = b"<html><head><meta name='robots' content='noai'></head><img src=a.jpg alt=x></html>"
    images, metas = extract_page(html, "http://p.test/")
    assert images == [("http://p.test/a.jpg", "x")] and metas == [("robots", "noai")]
    payload = wat_payload("http://p.test/", "x.warc.gz", images, metas)
    assert wat_refusal(payload) == ("consent/robots_meta", "page meta robots")
    assert wat_refusal(wat_payload("http://p.test/", "x.warc.gz", images)) is None
    assert wat_refusal({"Envelope": {"Payload-Metadata": []}}) is None  # odd shapes: no refusal


def _checker(server, **cfg):
    fetcher = Fetcher(FetchConfig(allowed_networks=("127.0.0.0/8",),
                                  resolve=parse_resolve(server.resolve_spec())))  # fmt: skip
    return ConsentChecker(fetcher, ConsentConfig(**cfg)), fetcher


def test_checker_asks_each_hosts_robots_txt_and_tdmrep_json(web_server):
    checker, _ = _checker(web_server)
    assert checker.refusal("http://tdm.sample.test/reserved/000.jpg")[0] == "consent/tdmrep_json"
    assert checker.refusal("http://tdm.sample.test/open/000.jpg") is None
    assert (
        checker.refusal("http://norobots.sample.test/private-img/0.jpg")[0] == "consent/robots_txt"
    )
    assert checker.refusal("http://cdn.sample.test/img/00001.jpg") is None  # no files: allowed
    assert checker.refusal("http://10.1.2.3/a.jpg") is None  # unreachable: left to the fetch
    assert checker.refusal("http://robots5xx.sample.test/a.jpg")[0] == "consent/robots_txt"
    assert checker.refusal("data:image/gif;base64,R0lG") is None
    off, _ = _checker(web_server, respect_robots=False, respect_tdmrep=False)
    assert off.refusal("http://tdm.sample.test/reserved/000.jpg") is None
    assert off.refusal("http://norobots.sample.test/private-img/0.jpg") is None


def test_fetcher_refuses_tdm_reserved_responses(web_server):
    _, fetcher = _checker(web_server)
    result = fetcher.fetch("http://cdn.sample.test/img/tdm-000.jpg")
    assert result.reason == "consent/tdm_reservation" and not result.body
    page = list(read_page("http://www.sample.test/pages/consent-tdm.html", fetcher, RobotsCache(fetcher)))  # fmt: skip
    assert [r.reason for r in page] == ["consent/tdm_reservation"]


def test_live_page_meta_robots_refuses_its_images(web_server):
    _, fetcher = _checker(web_server)
    records = list(read_page("http://www.sample.test/pages/consent-meta.html", fetcher, RobotsCache(fetcher)))  # fmt: skip
    assert len(records) == 3 and {r.reason for r in records} == {"consent/robots_meta"}
    assert all(r.url.startswith("http://cdn.sample.test/img/meta-") for r in records)
    off = ConsentConfig(respect_robots=False)
    kept = list(read_page("http://www.sample.test/pages/consent-meta.html", fetcher, RobotsCache(fetcher), consent=off))  # fmt: skip
    assert len(kept) == 3 and not any(r.rejected for r in kept)
