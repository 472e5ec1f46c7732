"""A threaded HTTP server on 127.0.0.1 (ephemeral port) that serves a generated sample web.

Requests are routed by their `Host` header to `ROOT/web/HOST/PATH`; `ROOT/routes.json` adds
special responses (status codes, redirects, extra headers such as `X-Robots-Tag`).

    with SampleWebServer(root) as server:
        print(server.port, server.resolve_spec())
"""

from __future__ import annotations

import json
import mimetypes
import os
import posixpath
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from pipeline.sampleweb import RESOLVE_GLOB

__all__ = ["SampleWebServer", "LocalHTTPServer"]


class _Handler(BaseHTTPRequestHandler):
    server_version = "sample-web/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        path = posixpath.normpath(unquote(urlsplit(self.path).path))
        route = self.server.routes.get(f"{host}{path}", {})  # type: ignore[attr-defined]
        if route.get("status"):
            return self._send(route["status"], b"", "text/plain", route.get("headers", {}))
        full = os.path.join(self.server.root, "web", host, path.lstrip("/"))  # type: ignore[attr-defined]
        if ".." in path or not os.path.isfile(full):
            return self._send(404, b"not found", "text/plain", {})
        with open(full, "rb") as f:
            body = f.read()
        ctype = mimetypes.guess_type(full)[0] or "application/octet-stream"
        self._send(200, body, ctype, route.get("headers", {}))

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class LocalHTTPServer(ThreadingHTTPServer):
    """The threaded server under every local test server: daemon threads, a real backlog, quiet."""

    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs under load: 1 s client stalls

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up mid-response (size caps, timeouts) are normal here: stay quiet."""


class SampleWebServer:
    """Serve a generated sample web on 127.0.0.1 in a background thread (a context manager)."""

    def __init__(self, root: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = LocalHTTPServer((host, port), _Handler)
        self.httpd.root = root  # type: ignore[attr-defined]
        with open(os.path.join(root, "routes.json")) as f:
            self.httpd.routes = json.load(f)  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.httpd.server_address[1])

    def resolve_spec(self) -> str:
        """The crawler's `--resolve` value that maps the sample hosts to this server."""
        return f"{RESOLVE_GLOB}=127.0.0.1:{self.port}"

    def __enter__(self) -> SampleWebServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
