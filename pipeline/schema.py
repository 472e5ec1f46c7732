"""The one record type that flows through every stage, its drop reasons, and shard-boundary naming.

A `Record` starts life as a candidate (url, caption, page) read from WAT/WARC/URL tables, gains
query ids, language and image fields as it moves through the stages, and leaves the pipeline
either as a sample in a shard (`to_sample_json`) or as a rejects row (`to_reject_row`).
WebDataset naming (`KEY.jpg`, `KEY.txt`, `KEY.json`) exists only in `webdataset_members`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "Record",
    "Stage",
    "Reason",
    "url_key",
    "reject",
    "stable_detail",
    "REJECT_COLUMNS",
    "SAMPLE_COLUMNS",
]

KEY_HEX_CHARS = 16


class Stage:
    """Stage names used in rejects rows and counters."""

    READ = "read"
    TEXT = "filter_text"
    DEDUP = "dedup_url"
    MATCH = "match_queries"
    LANGUAGE = "language"
    BALANCE = "balance"
    DOWNLOAD = "download"
    IMAGE = "image"
    DEDUP_IMAGE = "dedup_image"
    SAFETY = "safety"  # hash-list matches and unsafe drops (pipeline.safety)


class Reason:
    """Drop reasons (stable strings: they are counter names and rejects-table values)."""

    MALFORMED_RECORD = "malformed_record"
    ROBOTS_DISALLOWED = "robots_disallowed"
    PAGE_NOT_HTML = "page_not_html"
    PAGE_WITHOUT_IMAGES = "page_without_images"  # page fetch failures: "page_" + fetch reason
    EMPTY_CAPTION = "empty_caption"
    CAPTION_TOO_SHORT = "caption_too_short"
    CAPTION_TOO_LONG = "caption_too_long"
    BOILERPLATE_CAPTION = "boilerplate_caption"
    BLOCKED_WORD = "blocked_word"
    BLOCKED_DOMAIN = "blocked_domain"
    BAD_URL = "bad_url"
    UNSUPPORTED_SCHEME = "unsupported_scheme"
    DATA_URI = "data_uri"
    UNSUPPORTED_EXTENSION = "unsupported_extension"
    DUPLICATE_URL = "duplicate_url"
    NO_QUERY_MATCH = "no_query_match"
    LANGUAGE_NOT_WANTED = "language_not_wanted"
    OVER_QUERY_CAP = "over_query_cap"
    BLOCKED_ADDRESS = "blocked_address"
    DNS_FAILURE = "dns_failure"
    HTTP_5XX = "http_5xx"  # 4xx statuses are recorded exactly: "http_404", "http_429", ...
    CONNECT_TIMEOUT = "connect_timeout"
    CONNECTION_REFUSED = "connection_refused"
    UNREACHABLE = "unreachable"  # no route to the network or host
    READ_TIMEOUT = "read_timeout"
    TOTAL_TIMEOUT = "total_timeout"
    CONNECTION_ERROR = "connection_error"
    INCOMPLETE_BODY = "incomplete_body"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    TOO_LARGE = "too_large"
    OPTED_OUT = "opted_out"
    NOT_AN_IMAGE = "not_an_image"
    CORRUPT_IMAGE = "decode_error"
    DECOMPRESSION_BOMB = "decompression_bomb"
    IMAGE_TOO_SMALL = "too_small"
    BAD_ASPECT_RATIO = "bad_aspect"
    DUPLICATE_IMAGE = "duplicate_image"
    HASH_BLOCKLIST = "hash_blocklist"  # the rejects row keeps no url and no caption
    UNSAFE = "unsafe"  # punsafe at or above the threshold under --unsafe_policy drop
    TDM_RESERVATION = "consent/tdm_reservation"  # `tdm-reservation: 1` on the image or its page
    TDMREP_JSON = "consent/tdmrep_json"  # the host's /.well-known/tdmrep.json reserves the path
    ROBOTS_META = "consent/robots_meta"  # the page's robots meta tag (noai, noimageai, ...)
    ROBOTS_TXT = "consent/robots_txt"  # robots.txt disallows the image URL for our agent


def url_key(url: str) -> str:
    """The deterministic sample key of a URL: the first 16 hex chars of its SHA-256."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:KEY_HEX_CHARS]


@dataclass(frozen=True)
class Record:
    """A candidate image-text pair and, once downloaded, a sample.

    Fields are filled in by successive stages; a frozen dataclass keeps stages pure
    (`dataclasses.replace` returns the updated record).
    """

    url: str
    caption: str
    page_url: str = ""
    source: str = ""  # where it was read: "FILE#offset"
    key: str = ""
    query_ids: tuple[int, ...] = ()
    queries: tuple[str, ...] = ()
    language: str = ""
    language_score: float = 0.0
    # Image fields (set by the download stage).
    image: bytes = b""
    image_ext: str = "jpg"  # the stored (re-encoded) image's format: jpg, webp or png
    mime: str = ""  # the downloaded original's type, sniffed from its bytes
    width: int = 0
    height: int = 0
    original_width: int = 0
    original_height: int = 0
    sha256: str = ""  # of the downloaded original bytes (also when the stored image is blurred)
    exif: str = "{}"  # JSON of the original's EXIF tags (img2dataset's `exif` column)
    http_status: int = 0
    # Safety fields (set by the image stage's checks, pipeline.safety).
    punsafe: float | None = None  # unsafe-content score in [0, 1]; None when not scored
    faces: tuple[tuple[int, int, int, int], ...] = ()  # (x, y, w, h) in the stored image
    faces_blurred: bool = False  # the stored image has its faces blurred
    # Drop fields (set when the record is rejected).
    stage: str = ""
    reason: str = ""
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", url_key(self.url))

    @property
    def rejected(self) -> bool:
        """Whether this record carries a drop reason."""
        return bool(self.reason)

    def to_sample_json(self) -> dict[str, Any]:
        """The sample's metadata as written to `KEY.json` and the shard parquet."""
        return {
            "key": self.key,
            "url": self.url,
            "caption": self.caption,
            "page_url": self.page_url,
            "source": self.source,
            "status": "success",
            "error_message": None,
            "width": self.width,
            "height": self.height,
            "original_width": self.original_width,
            "original_height": self.original_height,
            "exif": self.exif,
            "sha256": self.sha256,
            "mime": self.mime,
            "query_ids": list(self.query_ids),
            "queries": list(self.queries),
            "language": self.language,
            "language_score": round(self.language_score, 4),
            "punsafe": self.punsafe,
            "faces": [list(box) for box in self.faces],
            "faces_blurred": self.faces_blurred,
        }

    def to_reject_row(self) -> dict[str, Any]:
        """One rejects-table row: who was dropped, at which stage, and why."""
        return {
            "key": self.key,
            "url": self.url,
            "caption": self.caption,
            "page_url": self.page_url,
            "source": self.source,
            "stage": self.stage,
            "reason": self.reason,
            "detail": self.detail[:500],
            "query_ids": list(self.query_ids),
            "http_status": self.http_status,
        }

    def webdataset_members(self) -> list[tuple[str, bytes]]:
        """The (name, bytes) tar members of this sample, in WebDataset naming."""
        meta = json.dumps(self.to_sample_json(), sort_keys=True, ensure_ascii=False)
        return [
            (f"{self.key}.{self.image_ext}", self.image),
            (f"{self.key}.txt", self.caption.encode("utf-8", "replace")),
            (f"{self.key}.json", meta.encode("utf-8", "replace")),
        ]


_VOLATILE = (
    (re.compile(r" at 0x[0-9a-fA-F]+"), ""),  # object addresses in exception reprs
    (re.compile(r"\(host='[^']*', port=\d+\)"), ""),  # urllib3 pool reprs: ephemeral ports
)


def stable_detail(detail: str) -> str:
    """A drop detail without what changes from run to run (addresses, ports), so reruns match."""
    for pattern, replacement in _VOLATILE:
        detail = pattern.sub(replacement, detail)
    return detail


def reject(record: Record, stage: str, reason: str, detail: str = "", **changes: Any) -> Record:
    """Return `record` marked as dropped at `stage` for `reason`, with its image bytes released."""
    detail = stable_detail(detail) if detail else detail
    if changes:
        return replace(record, stage=stage, reason=reason, detail=detail, image=b"", **changes)
    copy = object.__new__(Record)  # the fields of `replace`, without re-running __init__
    copy.__dict__.update(record.__dict__, stage=stage, reason=reason, detail=detail, image=b"")
    return copy


REJECT_COLUMNS = list(Record(url="x", caption="").to_reject_row())
SAMPLE_COLUMNS = list(Record(url="x", caption="").to_sample_json())
