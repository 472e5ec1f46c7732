"""`--downloader img2dataset`: img2dataset's own download and resize code behind our stage.

`i2d_download_record(record, ...)` is `download.download_record`'s contract (one record in, a
sample or a drop reason out) built on `img2dataset.downloader.download_image` and
`img2dataset.resizer.Resizer`, so the stored images are the ones img2dataset makes.

img2dataset opens its connections itself (`urllib.request.urlopen`). Before it does,
`install_policy` puts an opener in front of it whose connections resolve the host (our resolver,
with `--resolve`), refuse addresses the policy refuses (`netpolicy.address_allowed`, with
`--allowed_networks`), and connect to the very address they checked: redirects open new
connections, so they are checked too. Bodies are capped at `--max_image_bytes`. img2dataset
reports failures as text; the ones we recognise get our reasons (`http_404`,
`blocked_address`, `opted_out`, `too_large`, ...), the rest `connection_error` with its text.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import re
import socket
import urllib.request
from dataclasses import replace
from functools import partial

from pipeline.fetch import FetchConfig, http_reason
from pipeline.imaging import ImageConfig, sniff_mime
from pipeline.netpolicy import USER_AGENT_TOKEN, ResolveError, Resolver, address_allowed
from pipeline.schema import Reason, Record, Stage, reject

__all__ = ["install_policy", "make_resizer", "i2d_download_record", "i2d_reason"]

_OPT_OUT = ["noai", "noimageai", "noindex", "noimageindex"]
_HTTP_ERROR = re.compile(r"HTTP Error (\d{3})")
_OURS = re.compile(r"\b(blocked_address|dns_failure|too_large)\b")
_IMAGE_REASONS = {
    "image too small": Reason.IMAGE_TOO_SMALL,
    "aspect ratio too large": Reason.BAD_ASPECT_RATIO,
    "image area too large": Reason.DECOMPRESSION_BOMB,
}


class _Refused(OSError):
    """A connection the address policy refuses (the text starts with our reason)."""


class _CappedResponse(http.client.HTTPResponse):
    cap = 0

    def read(self, amt: int | None = None) -> bytes:  # type: ignore[override]
        data = super().read(self.cap + 1 if amt is None else amt)
        if amt is None and len(data) > self.cap:
            raise _Refused(f"too_large: over {self.cap} bytes")
        return data


def _connect(cfg: FetchConfig, resolver: Resolver, address, timeout, source=None):  # type: ignore[no-untyped-def]
    """`socket.create_connection`, to the address the policy allows, or `_Refused`."""
    host, port = address
    try:
        ip, port = resolver.resolve(host.lower(), port)
    except ResolveError as err:
        raise _Refused(f"dns_failure: {host}: {err}") from err
    if not address_allowed(ip, cfg.allowed_networks):
        raise _Refused(f"blocked_address: {host} -> {ip}")
    return socket.create_connection((ip, port), timeout, source)


def _connection(base: type, cfg: FetchConfig, resolver: Resolver) -> type:
    response = type("Capped", (_CappedResponse,), {"cap": cfg.max_bytes})

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        base.__init__(self, *args, **kwargs)
        self._create_connection = partial(_connect, cfg, resolver)

    return type(
        f"Policy{base.__name__}", (base,), {"__init__": __init__, "response_class": response}
    )


class _HTTP(urllib.request.HTTPHandler):
    def __init__(self, conn: type) -> None:
        super().__init__()
        self.conn = conn

    def http_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(self.conn, req)


class _HTTPS(urllib.request.HTTPSHandler):
    def __init__(self, conn: type) -> None:
        super().__init__()
        self.conn = conn

    def https_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(self.conn, req, context=self._context)


def install_policy(cfg: FetchConfig) -> None:
    """Make this process's `urllib.request.urlopen` (img2dataset's) obey the address policy."""
    resolver = Resolver(cfg.resolve)
    http_conn = _connection(http.client.HTTPConnection, cfg, resolver)
    https_conn = _connection(http.client.HTTPSConnection, cfg, resolver)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _HTTP(http_conn), _HTTPS(https_conn)
    )
    urllib.request.install_opener(opener)


def make_resizer(cfg: ImageConfig):  # type: ignore[no-untyped-def]
    """img2dataset's Resizer with our image settings."""
    from img2dataset.resizer import ResizeMode, Resizer

    return Resizer(
        image_size=cfg.image_size,
        resize_mode=ResizeMode[cfg.resize_mode],
        resize_only_if_bigger=cfg.resize_only_if_bigger,
        encode_quality=cfg.jpeg_quality,
        encode_format=cfg.encode_format,
        min_image_size=cfg.min_image_size,
        max_image_area=cfg.max_pixels,
        max_aspect_ratio=cfg.max_aspect_ratio,
    )


def i2d_reason(error: str) -> str:
    """Our drop reason for img2dataset's error text."""
    if m := _HTTP_ERROR.search(error):
        return http_reason(int(m.group(1)))
    if m := _OURS.search(error):
        return m.group(1)
    if "X-Robots-Tag" in error:
        return Reason.OPTED_OUT
    if "timed out" in error:
        return Reason.READ_TIMEOUT
    return Reason.CONNECTION_ERROR


def i2d_download_record(record: Record, cfg: FetchConfig, resizer, timeout: float) -> Record:  # type: ignore[no-untyped-def]
    """Download and resize one candidate with img2dataset's code (after `install_policy`)."""
    from img2dataset.downloader import download_image

    _, stream, error = download_image((0, record.url), timeout, USER_AGENT_TOKEN, _OPT_OUT)
    if stream is None:
        return reject(record, Stage.DOWNLOAD, i2d_reason(error or ""), (error or "")[:300])
    original = stream.getvalue()
    img, width, height, ow, oh, err = resizer(io.BytesIO(original))
    if err or img is None:
        reason = _IMAGE_REASONS.get(err or "", Reason.CORRUPT_IMAGE)
        return reject(record, Stage.IMAGE, reason, err or "", http_status=200)
    return replace(
        record,
        image=img,
        image_ext=resizer.encode_format if hasattr(resizer, "encode_format") else "jpg",
        mime=sniff_mime(original),
        width=width,
        height=height,
        original_width=ow,
        original_height=oh,
        sha256=hashlib.sha256(original).hexdigest(),
        http_status=200,
    )
