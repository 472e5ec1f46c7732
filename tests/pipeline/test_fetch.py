"""The fetcher against real HTTP servers on 127.0.0.1."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.fetch import FetchConfig, Fetcher
from pipeline.netpolicy import address_allowed, opted_out, parse_resolve
from pipeline.schema import Reason

LOOPBACK = ("127.0.0.0/8",)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: dict[str, int] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        _Handler.hits[self.path] = _Handler.hits.get(self.path, 0) + 1
        if self.path.startswith("/loop"):
            n = int(self.path[5:] or 0)
            return self._send(302, b"", {"Location": f"/loop{n + 1}"})
        if self.path == "/flaky" and _Handler.hits[self.path] == 1:
            return self._send(503, b"busy", {"Retry-After": "0"})
        if self.path == "/slow":
            time.sleep(2)
        if self.path == "/big":
            return self._send(200, b"x" * 5000, {})
        if self.path == "/noai":
            return self._send(
                200, b"data", {"X-Robots-Tag": "otherbot: noindex, wit-pipeline: noimageai"}
            )
        if self.path == "/host":
            return self._send(
                200, self.headers["Host"].encode() + b"|" + self.headers["User-Agent"].encode(), {}
            )
        if self.path == "/missing":
            return self._send(404, b"", {})
        self._send(200, b"ok:" + self.path.encode(), {})

    def _send(self, status, body, headers):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def fetcher(**kw):
    return Fetcher(FetchConfig(allowed_networks=LOOPBACK, backoff=0.01, **kw))


def test_private_addresses_refused_by_default(server):
    result = Fetcher(FetchConfig()).fetch(server + "/a.jpg")
    assert result.reason == Reason.BLOCKED_ADDRESS
    assert _Handler.hits.get("/a.jpg") is None  # never contacted


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "127.0.0.1",
        "::1",
        "fd00:ec2::254",
        "224.0.0.1",
        "::127.0.0.2",  # IPv4-compatible
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::a00:1",  # local-use NAT64
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::ffff:0:a00:1",  # SIIT
        "fec0::1",  # site-local
        "2001:db8::1",
    ],
)
def test_address_policy_blocks(ip):
    assert not address_allowed(ip)


def test_address_policy_allows_public_and_opted_in():
    assert address_allowed("93.184.216.34")
    assert address_allowed("64:ff9b::5db8:d822") and address_allowed("2002:5db8:d822::1")
    assert not address_allowed("::127.0.0.2", LOOPBACK)  # the embedded address is not opted in
    assert address_allowed("127.0.0.1", LOOPBACK)
    assert not address_allowed("169.254.169.254", LOOPBACK)


def test_fetch_ok_and_identifies_itself(server):
    result = fetcher().fetch(server + "/host")
    assert result.status == 200 and result.reason == ""
    host, agent = result.body.decode().split("|")
    assert host.startswith("127.0.0.1:") and agent.startswith("wit-pipeline/")


def test_resolve_override_keeps_host_header(server):
    port = int(server.rsplit(":", 1)[1])
    f = Fetcher(
        FetchConfig(
            allowed_networks=LOOPBACK, resolve=parse_resolve(f"*.sample.test=127.0.0.1:{port}")
        )
    )
    assert f.fetch("http://cdn.sample.test/host").body.startswith(b"cdn.sample.test|")


def test_redirects_are_capped(server):
    assert fetcher().fetch(server + "/loop3").reason == Reason.TOO_MANY_REDIRECTS
    ok = fetcher(max_redirects=5).fetch(server + "/loop0")
    assert ok.reason == Reason.TOO_MANY_REDIRECTS


def test_retry_on_503_then_success(server):
    result = fetcher(retries=1).fetch(server + "/flaky")
    assert result.status == 200 and _Handler.hits["/flaky"] == 2


def test_http_error_and_size_cap_and_optout(server):
    assert fetcher().fetch(server + "/missing").reason == "http_404"
    assert fetcher(max_bytes=1000).fetch(server + "/big").reason == Reason.TOO_LARGE
    assert fetcher().fetch(server + "/noai").reason == Reason.OPTED_OUT


def test_read_timeout(server):
    result = fetcher(read_timeout=0.3, retries=0).fetch(server + "/slow")
    assert result.reason == Reason.READ_TIMEOUT


def test_opt_out_scoping():
    assert opted_out(["noai"])
    assert opted_out(["wit-pipeline: noimageai"])
    assert not opted_out(["otherbot: noai"])
    assert not opted_out(["nofollow"])


def test_parse_resolve_rejects_garbage():
    with pytest.raises(ValueError):
        parse_resolve("nonsense")


def test_per_host_rate_limit(server):
    f = fetcher(per_host_rate=20.0)
    start = time.monotonic()
    for _ in range(10):
        assert f.fetch(server + "/rate").status == 200
    assert time.monotonic() - start >= 0.44  # 10 starts at 20/s: 9 intervals of 50 ms


def test_per_host_concurrency_limit():
    from pipeline.fetch import HostLimiter

    limiter = HostLimiter(connections=2, rate=0)
    a, b = limiter.acquire("h"), limiter.acquire("h")
    assert not limiter._slots["h"].acquire(blocking=False)  # a third request waits
    a.release()
    b.release()
    limiter.acquire("other").release()  # other hosts are independent
