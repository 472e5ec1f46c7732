"""Hash-list removal: MD5 / SHA-1 of the original bytes and PDQ perceptual hashes.

Child-safety organisations distribute lists of hashes, not images. A list file has one hash per
line, optionally prefixed by its kind (`md5:`, `sha1:`, `pdq:`); a bare hex string is typed by
its length (32: MD5, 40: SHA-1, 64: PDQ). `#` starts a comment. PDQ (Meta's open perceptual
hash, `pdqhash` = bindings to the reference C++) matches within a Hamming distance
(`--pdq_distance`, default 31 of 256 bits, the threshold Meta's documentation recommends) of
any of the image's 8 rotations and mirror images.

    lists = load_lists(["lists/ncmec.txt"], read=lambda p: open(p, "rb").read())
    lists.match_bytes(body)        # -> Match(list, kind, distance) or None
    lists.match_image(rgb_image)   # PDQ of the decoded image

    python -m pipeline.hashlist IMAGE... > list.txt   # a list of the given images (tests, demo)
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["HashLists", "Match", "parse_list", "load_lists", "pdq_hex", "list_lines"]

_KINDS = {32: "md5", 40: "sha1", 64: "pdq"}
DEFAULT_PDQ_DISTANCE = 31


class Match(NamedTuple):
    """Which list matched, by which kind of hash, at what Hamming distance (0 for exact)."""

    list_name: str
    kind: str
    distance: int = 0

    def detail(self) -> str:
        """The rejects-row detail: the list and the hash kind, never the hash or the image."""
        return f"list={self.list_name} kind={self.kind} distance={self.distance}"


def _entry(line: str) -> tuple[str, str] | None:
    text = line.split("#", 1)[0].strip().lower()
    if not text:
        return None
    kind, _, value = text.rpartition(":")
    value = value.strip()
    kind = kind.strip() or _KINDS.get(len(value), "")
    if kind not in _KINDS.values() or len(value) not in _KINDS or _KINDS[len(value)] != kind:
        raise ValueError(f"not an md5/sha1/pdq hash: {line.strip()[:80]!r}")
    int(value, 16)  # raises ValueError on non-hex
    return kind, value


def parse_list(text: str) -> dict[str, frozenset[str]]:
    """{kind: hex hashes} of one list file's text; raises ValueError on a malformed line."""
    found: dict[str, set[str]] = {"md5": set(), "sha1": set(), "pdq": set()}
    for line in text.splitlines():
        entry = _entry(line)
        if entry:
            found[entry[0]].add(entry[1])
    return {kind: frozenset(values) for kind, values in found.items()}


@dataclass(frozen=True)
class HashLists:
    """Every loaded list, picklable (read at launch, shipped to workers inside the config)."""

    lists: tuple[tuple[str, dict[str, frozenset[str]]], ...] = ()
    pdq_distance: int = DEFAULT_PDQ_DISTANCE
    _pdq: dict = field(default_factory=dict, compare=False, repr=False)

    def __bool__(self) -> bool:
        return any(any(v) for _, kinds in self.lists for v in kinds.values())

    @property
    def wants_pdq(self) -> bool:
        """Whether any list holds PDQ hashes (the decoded image must then be hashed)."""
        return any(kinds["pdq"] for _, kinds in self.lists)

    def match_bytes(self, body: bytes) -> Match | None:
        """The first list holding the MD5 or SHA-1 of `body`, or None."""
        if not self:
            return None
        md5, sha1 = hashlib.md5(body).hexdigest(), hashlib.sha1(body).hexdigest()
        for name, kinds in self.lists:
            if md5 in kinds["md5"]:
                return Match(name, "md5")
            if sha1 in kinds["sha1"]:
                return Match(name, "sha1")
        return None

    def match_image(self, rgb: object) -> Match | None:
        """The first list holding a PDQ hash within `pdq_distance` of the image's, or None."""
        if not self.wants_pdq:
            return None
        import numpy as np

        variants = _pdq_dihedral(rgb)  # 8 x 32 bytes: the image, rotated and mirrored
        for name, kinds in self.lists:
            table = self._table(name, kinds["pdq"])
            if len(table):
                xor = table[None, :, :] ^ variants[:, None, :]
                best = int(np.unpackbits(xor, axis=2).sum(axis=2).min())
                if best <= self.pdq_distance:
                    return Match(name, "pdq", best)
        return None

    def _table(self, name: str, hashes: frozenset[str]):  # type: ignore[no-untyped-def]
        import numpy as np

        if name not in self._pdq:  # built once per worker, on first use
            rows = [bytes.fromhex(h) for h in sorted(hashes)]
            self._pdq[name] = np.frombuffer(b"".join(rows), np.uint8).reshape(len(rows), 32)
        return self._pdq[name]


def _pdq_bits(rgb: object):  # type: ignore[no-untyped-def]
    """The image's PDQ hash as 32 packed bytes (most significant bit first, like the reference)."""
    import numpy as np
    import pdqhash

    array = np.asarray(rgb.convert("RGB") if hasattr(rgb, "convert") else rgb, dtype=np.uint8)
    vector, _quality = pdqhash.compute(np.ascontiguousarray(array))
    return np.packbits(np.asarray(vector, dtype=np.uint8))


def _pdq_dihedral(rgb: object):  # type: ignore[no-untyped-def]
    """The PDQ hashes of the image's 8 rotations and mirror images (one DCT: as cheap as one)."""
    import numpy as np
    import pdqhash

    array = np.asarray(rgb.convert("RGB") if hasattr(rgb, "convert") else rgb, dtype=np.uint8)
    vectors, _qualities = pdqhash.compute_dihedral(np.ascontiguousarray(array))
    return np.packbits(np.asarray(vectors, dtype=np.uint8), axis=1)


def pdq_hex(rgb: object) -> str:
    """The PDQ hash of an image as the reference tools print it (64 hex digits)."""
    return bytes(_pdq_bits(rgb)).hex()


def load_lists(
    paths: Iterable[str], read: Callable[[str], bytes], pdq_distance: int = DEFAULT_PDQ_DISTANCE
) -> HashLists:
    """Read every list file (named by its base name in rejects rows) into a `HashLists`."""
    lists = []
    for path in paths:
        name = os.path.basename(path.rstrip("/")) or path
        lists.append((name, parse_list(read(path).decode("utf-8", "replace"))))
    return HashLists(tuple(lists), pdq_distance)


def list_lines(images: Iterable[bytes], kinds: tuple[str, ...] = ("md5", "pdq")) -> list[str]:
    """Hash-list lines for image bytes (how the tests and the demo make a list)."""
    import io

    from PIL import Image

    lines = []
    for body in images:
        if "md5" in kinds:
            lines.append("md5:" + hashlib.md5(body).hexdigest())
        if "sha1" in kinds:
            lines.append("sha1:" + hashlib.sha1(body).hexdigest())
        if "pdq" in kinds:
            with Image.open(io.BytesIO(body)) as img:
                lines.append("pdq:" + pdq_hex(img.convert("RGB")))
    return lines


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            print("\n".join(list_lines([f.read()])))
