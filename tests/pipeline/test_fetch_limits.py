"""The fetcher's documented limits, each at its edge: 5 redirects, Retry-After, DNS rebinding.

Real HTTP servers on 127.0.0.1 (and 127.0.0.2, the "internal" side of a rebinding attack).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.fetch import FetchConfig, Fetcher
from pipeline.netpolicy import Resolver
from pipeline.schema import Reason


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server: _Server = self.server  # type: ignore[assignment]
        with server.lock:
            server.hits.append((self.path, time.monotonic()))
            seen = sum(1 for path, _ in server.hits if path == self.path)
        name, _, arg = self.path.strip("/").partition("/")
        if name == "chain" and int(arg) > 0:  # /chain/N: N more redirects, then a body
            return self._send(302, b"", {"Location": f"/chain/{int(arg) - 1}"})
        if name == "goto":  # /goto/HOST: a redirect to HOST on this server's port
            return self._send(
                302, b"", {"Location": f"http://{arg}:{self.server.server_address[1]}/in"}
            )
        if name in ("busy", "throttled") and seen == 1:  # /busy/SECONDS: 503 once, then a body
            status = 503 if name == "busy" else 429
            return self._send(status, b"", {"Retry-After": arg.split("/")[0]})
        self._send(200, server.body + b":" + self.path.encode(), {})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], body: bytes) -> None:
        self.body, self.hits, self.lock = body, [], threading.Lock()
        super().__init__(address, _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def times(self, path: str) -> list[float]:
        with self.lock:
            return [t for p, t in self.hits if p == path]


@pytest.fixture(scope="module")
def server():
    httpd = _Server(("127.0.0.1", 0), b"public")
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(httpd: _Server, path: str) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}{path}"


def _fetcher(**kw: object) -> Fetcher:
    return Fetcher(FetchConfig(allowed_networks=("127.0.0.0/8",), backoff=0.01, **kw))  # type: ignore[arg-type]


def test_default_follows_exactly_five_redirects(server):
    five = _fetcher().fetch(_url(server, "/chain/5"))
    assert five.status == 200 and five.body == b"public:/chain/0"
    assert five.final_url.endswith("/chain/0") and five.url.endswith("/chain/5")
    six = _fetcher().fetch(_url(server, "/chain/6"))
    assert six.reason == Reason.TOO_MANY_REDIRECTS and six.body == b""


def test_redirect_limit_is_the_configured_one(server):
    assert _fetcher(max_redirects=1).fetch(_url(server, "/chain/1")).status == 200
    assert _fetcher(max_redirects=1).fetch(_url(server, "/chain/2")).reason == (
        Reason.TOO_MANY_REDIRECTS
    )
    assert _fetcher(max_redirects=0).fetch(_url(server, "/chain/1")).reason == (
        Reason.TOO_MANY_REDIRECTS
    )
    before = {n: len(server.times(f"/chain/{n}")) for n in range(5)}
    _fetcher(max_redirects=2, retries=0).fetch(_url(server, "/chain/4"))
    after = {n: len(server.times(f"/chain/{n}")) - before[n] for n in range(5)}
    assert after == {4: 1, 3: 1, 2: 1, 1: 0, 0: 0}  # 2 hops followed, the third never requested


@pytest.mark.parametrize("kind", ["busy", "throttled"])
def test_retry_after_is_honoured(server, kind):
    path = f"/{kind}/1"  # the server asks for 1 s; the fetcher's own backoff is 10 ms
    result = _fetcher(retries=1).fetch(_url(server, path))
    assert result.status == 200
    first, second = server.times(path)
    assert second - first >= 0.9  # a lower bound: a loaded machine only makes the gap longer


def test_retry_after_is_capped(server):
    path = "/busy/3600"
    start = time.monotonic()
    result = _fetcher(retries=1, max_retry_after=0.3).fetch(_url(server, path))
    assert result.status == 200 and time.monotonic() - start < 60
    first, second = server.times(path)
    assert second - first >= 0.25


@pytest.fixture(scope="module")
def rebinding_pair():
    """A public-side server on 127.0.0.1:P and an internal one on 127.0.0.2:P (same port)."""
    for _ in range(20):
        internal = _Server(("127.0.0.2", 0), b"internal-secret")
        try:
            public = _Server(("127.0.0.1", internal.server_address[1]), b"public")
        except OSError:
            internal.shutdown()
            internal.server_close()
            continue
        yield public, internal
        for httpd in (public, internal):
            httpd.shutdown()
            httpd.server_close()
        return
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


class _RebindingDNS:
    """Answers an allowed address first, then an internal one (a rebinding attacker's server)."""

    def __init__(self, first: str, then: str) -> None:
        self.answers, self.calls = [first, then], 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return [self.answers[min(self.calls, 2) - 1]]


def test_dns_rebinding_cannot_reach_the_internal_address(rebinding_pair):
    public, internal = rebinding_pair
    dns = _RebindingDNS("127.0.0.1", "127.0.0.2")
    cfg = FetchConfig(allowed_networks=("127.0.0.1/32",), retries=0)
    fetcher = Fetcher(cfg, Resolver(lookup=dns))
    url = f"http://rebind.test:{public.server_address[1]}/x"
    results = [fetcher.fetch(url) for _ in range(4)]
    for result in results:  # each fetch either reaches the checked address or is refused
        assert result.body == b"public:/x" or result.reason == Reason.BLOCKED_ADDRESS, result
    assert results[0].body == b"public:/x"
    assert internal.hits == []


def test_dns_answer_inside_a_private_network_is_refused(rebinding_pair):
    public, internal = rebinding_pair
    dns = _RebindingDNS("127.0.0.2", "127.0.0.1")
    cfg = FetchConfig(allowed_networks=("127.0.0.1/32",), retries=0)
    result = Fetcher(cfg, Resolver(lookup=dns)).fetch(
        f"http://rebind.test:{public.server_address[1]}/y"
    )
    assert result.reason == Reason.BLOCKED_ADDRESS and "127.0.0.2" in result.detail
    assert internal.hits == []


@pytest.mark.parametrize("target", ["127.0.0.2", "internal.test"])
def test_redirect_to_a_refused_address_is_not_followed(rebinding_pair, target):
    public, internal = rebinding_pair
    dns = _RebindingDNS("127.0.0.2", "127.0.0.2")
    cfg = FetchConfig(allowed_networks=("127.0.0.1/32",), retries=0)
    fetcher = Fetcher(cfg, Resolver(lookup=dns))
    result = fetcher.fetch(_url(public, f"/goto/{target}"))
    assert result.reason == Reason.BLOCKED_ADDRESS and "127.0.0.2" in result.detail
    assert internal.hits == [] and public.times(f"/goto/{target}")
