"""A hostile HTTP server on 127.0.0.1: every way a web server can hurt a crawler, one per path.

Used by the hostile test suite, the soak run and benchmarks. `EXPECTED` maps each path to the
outcome the pipeline must record: "kept" or the drop reason.

    with HostileServer() as server:
        urls = server.urls()   # {path: url}
"""

from __future__ import annotations

import gzip
import io
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler

from PIL import Image

from pipeline.webserver import LocalHTTPServer

__all__ = ["HostileServer", "EXPECTED"]

EXPECTED = {
    "/ok.jpg": "kept",
    "/mislabelled.png": "kept",
    "/cmyk.jpg": "kept",
    "/exif-rotated.jpg": "kept",
    "/animated.gif": "kept",
    "/sixteen-bit.png": "kept",
    "/palette-alpha.png": "kept",
    "/500-then-ok.jpg": "kept",
    "/redirect-chain": "kept",
    "/slow-headers": "read_timeout",
    "/trickle": "total_timeout",
    "/stall": "read_timeout",
    "/429": "http_429",
    "/503": "http_5xx",
    "/404": "http_404",
    "/403": "http_403",
    "/410": "http_410",
    "/redirect-loop": "too_many_redirects",
    "/redirect-loopback": "blocked_address",
    "/redirect-metadata": "blocked_address",
    "/lying-length": "incomplete_body",
    "/huge-length": "too_large",
    "/endless": "too_large",
    "/gzip-bomb": "not_an_image",
    "/bomb.png": "decompression_bomb",
    "/truncated.jpg": "decode_error",
    "/html-as-jpeg.jpg": "not_an_image",
    "/empty.jpg": "not_an_image",
    "/noai.jpg": "opted_out",
    "/noai-scoped.jpg": "opted_out",
    "/reset": "connection_error",
    "/tiny.png": "too_small",
    "/wide.jpg": "bad_aspect",
    "/tdm-reserved.jpg": "consent/tdm_reservation",
    "/header-drip": "total_timeout",
    "/slow-redirect-chain": "total_timeout",
    "/redirect-v4-compatible": "blocked_address",
    "/redirect-nat64": "blocked_address",
    "/redirect-nat64-local": "blocked_address",
    "/redirect-6to4": "blocked_address",
    "/redirect-siit": "blocked_address",
    "/redirect-site-local": "blocked_address",
}
# Where the IPv6 redirects point: forms that embed 127.0.0.2 / 10.0.0.1, and site-local.
_V6_TARGETS = {
    "/redirect-v4-compatible": "::127.0.0.2",
    "/redirect-nat64": "64:ff9b::7f00:2",
    "/redirect-nat64-local": "64:ff9b:1::a00:1",
    "/redirect-6to4": "2002:7f00:2::1",
    "/redirect-siit": "::ffff:0:7f00:2",
    "/redirect-site-local": "fec0::1",
}


def _img(mode: str, size: tuple[int, int], fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    img = Image.new(
        mode, size, 200 if mode in ("L", "P", "I;16") else (200, 50, 50, 128)[: len(mode)]
    )
    img.save(out, fmt, **save)
    return out.getvalue()


def _bodies() -> dict[str, bytes]:
    from pipeline.sampleweb import _bomb_png

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    gif = io.BytesIO()
    frames = [Image.new("P", (120, 90), i) for i in range(3)]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    jpeg = _img("RGB", (320, 240), "JPEG")
    return {
        "jpeg": jpeg,
        "jpeg_chain": _img("RGB", (330, 240), "JPEG"),  # distinct bytes: not exact duplicates
        "jpeg_retry": _img("RGB", (340, 240), "JPEG"),
        "png": _img("RGB", (320, 240), "PNG"),
        "cmyk": _img("CMYK", (200, 150), "JPEG"),
        "exif": _img("RGB", (300, 200), "JPEG", exif=exif.tobytes()),
        "gif": gif.getvalue(),
        "png16": _img("I;16", (160, 120), "PNG"),
        "palette": _img("RGBA", (160, 120), "PNG"),
        "bomb": _bomb_png(),
        "truncated": jpeg[: len(jpeg) // 3],
        "tiny": _img("RGB", (16, 16), "PNG"),
        "wide": _img("RGB", (1000, 100), "JPEG"),
        "gzip_bomb": gzip.compress(b"\0" * 50_000_000, compresslevel=9),
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:  # noqa: N802
        server: LocalHTTPServer = self.server  # type: ignore[assignment]
        with server.lock:
            server.hits[self.path] = server.hits.get(self.path, 0) + 1
            hits = server.hits[self.path]
        action = _ROUTES.get(self.path.split("?")[0])
        if action is None:
            return self._send(404, b"")
        action(self, server, hits)

    def _send(self, status: int, body: bytes, ctype: str = "image/jpeg", **extra: str) -> None:
        headers = {name.replace("_", "-"): value for name, value in extra.items()}
        headers.setdefault("Content-Length", str(len(body)))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", Location=location)

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _trickle(self, body: bytes, delay: float) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for i in range(len(body)):
            self.wfile.write(body[i : i + 1])
            self.wfile.flush()
            time.sleep(delay)

    def _drip_head(self, status: int, delay: float, location: str = "") -> None:
        """Send the status line and headers one byte every `delay` s (each under a read timeout)."""
        head = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nX-Padding: {'p' * 40}\r\n"
        head += (f"Location: {location}\r\n" if location else "") + "\r\n"
        self.close_connection = True
        try:
            for byte in head.encode():
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(delay)
        except OSError:  # the crawler gave up: that is the point
            pass

    def _stall(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        time.sleep(self.server.stall)  # type: ignore[attr-defined]
        self.close_connection = True

    def _endless(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"\xff\xd8\xff" + b"\0" * 65533
        try:
            for _ in range(100_000):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        self.close_connection = True


def _r(name: str, ctype: str = "image/jpeg", **headers: str):  # a route serving a fixed body
    return lambda h, s, n: h._send(200, s.bodies[name], ctype, **headers)


_ROUTES = {
    "/ok.jpg": _r("jpeg"),
    "/mislabelled.png": _r("png", "image/jpeg"),
    "/cmyk.jpg": _r("cmyk"),
    "/exif-rotated.jpg": _r("exif"),
    "/animated.gif": _r("gif", "image/gif"),
    "/sixteen-bit.png": _r("png16", "image/png"),
    "/palette-alpha.png": _r("palette", "image/png"),
    "/500-then-ok.jpg": lambda h, s, n: (
        h._send(500, b"oops") if n == 1 else h._send(200, s.bodies["jpeg_retry"])
    ),
    "/redirect-chain": lambda h, s, n: h._redirect("/redirect-chain-2"),
    "/redirect-chain-2": lambda h, s, n: h._redirect("/redirect-chain-3"),
    "/redirect-chain-3": lambda h, s, n: h._redirect("/chain-end.jpg?from=chain"),
    "/chain-end.jpg": _r("jpeg_chain"),
    "/slow-headers": lambda h, s, n: (time.sleep(s.stall), h._send(200, s.bodies["jpeg"])),
    "/trickle": lambda h, s, n: h._trickle(s.bodies["jpeg"][:400], 0.05),
    "/stall": lambda h, s, n: h._stall(s.bodies["jpeg"]),
    "/429": lambda h, s, n: h._send(429, b"slow down", "text/plain", Retry_After="0"),
    "/503": lambda h, s, n: h._send(503, b"busy", "text/plain"),
    "/404": lambda h, s, n: h._send(404, b"gone", "text/html"),
    "/403": lambda h, s, n: h._send(403, b"no", "text/html"),
    "/410": lambda h, s, n: h._send(410, b"gone", "text/html"),
    "/redirect-loop": lambda h, s, n: h._redirect("/redirect-loop"),
    "/redirect-loopback": lambda h, s, n: h._redirect(
        f"http://127.0.0.2:{s.server_address[1]}/ok.jpg"
    ),
    "/redirect-metadata": lambda h, s, n: h._redirect("http://169.254.169.254/latest/meta-data/"),
    "/lying-length": lambda h, s, n: (
        h._send(200, s.bodies["jpeg"][:100], Content_Length="10000"),
        setattr(h, "close_connection", True),
    ),
    "/huge-length": lambda h, s, n: h._send(200, b"", Content_Length=str(10**10)),
    "/endless": lambda h, s, n: h._endless(),
    "/gzip-bomb": _r("gzip_bomb", "image/jpeg", Content_Encoding="gzip"),
    "/bomb.png": _r("bomb", "image/png"),
    "/truncated.jpg": _r("truncated"),
    "/html-as-jpeg.jpg": lambda h, s, n: h._send(200, b"<!doctype html><p>hello</p>", "image/jpeg"),
    "/empty.jpg": lambda h, s, n: h._send(200, b""),
    "/noai.jpg": _r("jpeg", X_Robots_Tag="noai"),
    "/noai-scoped.jpg": _r("jpeg", X_Robots_Tag="otherbot: noindex, wit-pipeline: noimageai"),
    "/reset": lambda h, s, n: h._reset(),
    "/tiny.png": _r("tiny", "image/png"),
    "/wide.jpg": _r("wide"),
    "/header-drip": lambda h, s, n: h._drip_head(200, 0.25),
    "/slow-redirect-chain": lambda h, s, n: h._drip_head(302, 0.012, "/slow-redirect-chain?hop"),
    **{
        path: lambda h, s, n, ip=ip: h._redirect(f"http://[{ip}]:{s.server_address[1]}/ok.jpg")
        for path, ip in _V6_TARGETS.items()
    },
    "/tdm-reserved.jpg": _r("jpeg", tdm_reservation="1"),
    "/.well-known/tdmrep.json": lambda h, s, n: h._send(200, b'[{"location": ', "application/json"),
    "/robots.txt": lambda h, s, n: h._send(
        200, b"User-agent: *\nDisallow: /\x00\xff\n" * 3, "text/plain"
    ),
}


class HostileServer:
    """Serve the hostile routes on 127.0.0.1 in a background thread; counts requests per path."""

    def __init__(self, stall: float = 3.0) -> None:
        self.httpd = LocalHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.bodies = _bodies()  # type: ignore[attr-defined]
        self.httpd.hits = {}  # type: ignore[attr-defined]
        self.httpd.lock = threading.Lock()  # type: ignore[attr-defined]
        self.httpd.stall = stall  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def hits(self) -> dict[str, int]:
        """Requests received per path."""
        return dict(self.httpd.hits)  # type: ignore[attr-defined]

    def urls(self) -> dict[str, str]:
        """{path: absolute URL} of every hostile route."""
        port = self.httpd.server_address[1]
        return {path: f"http://127.0.0.1:{port}{path}" for path in EXPECTED}

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
