"""Text normalisation and the token form that queries and captions are matched in.

Both sides are normalised (Unicode NFKC, case-folded) and split into tokens: runs of word
characters (letters, digits, combining marks, `_`) of scripts written with spaces; each single
character of a script written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer,
Myanmar, Tibetan); each other non-space character (punctuation, symbols) on its own. The match
form is the tokens joined by single spaces and padded with one space on each side:

    match_form("A red-circle, 猫!")  # -> " a red - circle , 猫 ! "

A query matches a caption when its match form is a substring of the caption's, so matches fall
on token boundaries ("cat" is in "a cat." but not in "category"), and inside no-space scripts
every character is a boundary: MetaCLIP 2's substring rule for those languages.
"""

from __future__ import annotations

import unicodedata

__all__ = ["normalize_text", "tokens", "match_form", "NO_SPACE_RANGES", "is_no_space_char"]

# Scripts written without spaces between words (MetaCLIP 2's list of no-space languages).
NO_SPACE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x323AF),  # CJK extensions B-H
)


def is_no_space_char(ch: str) -> bool:
    """Whether `ch` belongs to a script written without spaces between words."""
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in NO_SPACE_RANGES)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_" or unicodedata.category(ch)[0] == "M"


class _SpacingTable(dict[int, str]):
    """A `str.translate` table that puts spaces around every single-character token."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        standalone = is_no_space_char(ch) or not (_is_word_char(ch) or ch.isspace())
        value = f" {ch} " if standalone else ch
        self[code] = value
        return value


_TABLE = _SpacingTable()
for _code in range(128):
    _TABLE[_code]  # noqa: B018 - pre-fill the ASCII entries


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: the form both queries and captions are matched in."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _folded(text: str) -> str:
    if text.isascii():  # NFKC is the identity and casefold is lower() on ASCII
        return text.lower()
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str) -> list[str]:
    """The tokens of `text` after normalisation (see the module docstring)."""
    return _folded(text).translate(_TABLE).split()


def match_form(text: str) -> str:
    """Tokens joined by single spaces and padded with one space on each side."""
    return f" {' '.join(_folded(text).translate(_TABLE).split())} "
