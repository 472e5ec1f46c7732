"""Benchmark the query matcher and balancer on 500,000 entries; prints a table (medians).

    .venv/bin/python bench/queries.py [--entries 500000] [--captions 100000] [--runs 3]

Two caption sets, each against a 500,000-entry list:

- realistic (needs /usr/share/wordnet): captions are real English sentence fragments written by
  people, the WordNet glosses split at ";" (3-20 words, alt-text length: ~8 words, ~47
  characters). The list is what `wit queries build` makes from WordNet plus a text corpus (the
  other half of the glosses, standing in for Wikipedia: every unigram seen twice, every bigram
  seen 3 times with PMI >= 30), topped up with generated entries to 500,000. Nearly every
  caption word is a query, as with Wikipedia's unigrams.
- stress: template word salad, 8-16 words of which 30% are list entries (many of them rare
  multi-word ones): ~12 words, ~117 characters and ~19 matches per caption.

Rows: ours (token-boundary matching), raw pyahocorasick without boundary checks, MetaCLIP's
original padded substring loop (on a subset), automaton build / save / load time, file size and
RSS growth, and the balancing rate. One process: every rate is per core.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ahocorasick  # noqa: E402

from queries.balance import count_matches, keep_sample  # noqa: E402
from queries.matcher import QueryMatcher  # noqa: E402
from queries.sources import read_wordnet  # noqa: E402

COMMON = (
    "a an the of in on with and at by for from photo picture image view close up red blue "
    "green black white small large old new man woman dog cat car house tree street city beach "
    "sunset night day people family wedding party food table room garden river mountain"
).split()
SYLLABLES = "ka lo mi ran te vo su ber dil gon pra sto que nix tal mer fi zo lun"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _worker_rss_mb(path: str) -> float:
    """RSS growth of a fresh process loading the saved matcher (what each worker's setup() pays).

    Measured in its own process: in this one, the automaton would reuse memory freed by earlier
    steps and look smaller than it is.
    """
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]); from bench.queries import _rss_mb; "
        "from queries.matcher import QueryMatcher; r = _rss_mb(); "
        "m = QueryMatcher.load(sys.argv[1]); print(_rss_mb() - r)"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code, path, root], capture_output=True, text=True)
    return float(out.stdout.strip() or "nan")


def make_entries(n: int, seed: int = 0) -> list[str]:
    """`n` distinct entries: WordNet lemmas if installed, then generated words and phrases."""
    entries = sorted(read_wordnet("/usr/share/wordnet", __import__("collections").Counter()))
    entries = entries[:n] if os.path.isdir("/usr/share/wordnet") else []
    rng, syl, seen = random.Random(seed), SYLLABLES.split(), set(entries)
    while len(entries) < n:
        word = "".join(rng.choice(syl) for _ in range(rng.randint(2, 4)))
        cand = word if rng.random() < 0.6 else f"{word} {rng.choice(entries or COMMON)}"
        if cand not in seen:
            seen.add(cand)
            entries.append(cand)
    return entries


def make_captions(n: int, entries: list[str], seed: int = 1) -> list[str]:
    """Caption-like sentences of 8-16 words mixing common words and entries."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [
            rng.choice(COMMON) if rng.random() < 0.7 else rng.choice(entries)
            for _ in range(rng.randint(8, 16))
        ]
        words[0] = words[0].capitalize()
        out.append(" ".join(words) + rng.choice([".", "!", "", " - 2019", ", Paris"]))
    return out


def gloss_fragments(wordnet: str = "/usr/share/wordnet", seed: int = 0) -> list[str]:
    """Real English fragments: WordNet glosses split at ';' (3-20 words), shuffled."""
    out = []
    for part in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(wordnet, f"data.{part}"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                for frag in line.split("|", 1)[1].split(";"):
                    frag = frag.strip().strip('"').strip()
                    if 3 <= len(frag.split()) <= 20:
                        out.append(frag)
    random.Random(seed).shuffle(out)
    return out


def realistic_entries(corpus: list[str], n: int, tmp: str, filler: list[str]) -> list[str]:
    """`wit queries build` on WordNet + `corpus` (low thresholds), topped up from `filler`."""
    from queries.build import BuildConfig, build_queries

    path = os.path.join(tmp, "corpus.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(corpus))
    cfg = BuildConfig(
        wordnet_dir="/usr/share/wordnet",
        texts=(path,),
        min_unigram_count=2,
        min_bigram_count=3,
        max_entries=n,
    )
    rows, _ = build_queries(cfg)
    built = [r["query"] for r in rows]
    seen = set(built)
    return built + [e for e in filler if e not in seen][: n - len(built)]


def _rate(fn, items: list, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for item in items:
            fn(item)
        times.append(time.perf_counter() - start)
    return len(items) / statistics.median(times)


def _raw_anchor(entries: list[str]):  # type: ignore[no-untyped-def]
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for i, e in enumerate(entries):
        automaton.add_word(e.lower(), i)
    automaton.make_automaton()
    return lambda caption: {v for _, v in automaton.iter(caption.lower())}


def _metaclip_loop(entries: list[str]):  # type: ignore[no-untyped-def]
    padded = [f" {e} " for e in entries]
    return lambda caption: [i for i, e in enumerate(padded) if e in f" {caption.lower()} "]


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--entries", type=int, default=500_000)
    ap.add_argument("--captions", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--loop-captions", type=int, default=50)
    args = ap.parse_args()
    generated = make_entries(args.entries)
    if os.path.isdir("/usr/share/wordnet"):
        fragments = gloss_fragments()
        with tempfile.TemporaryDirectory() as tmp:
            entries = realistic_entries(fragments[args.captions :], args.entries, tmp, generated)
        scenario(
            "realistic: real English fragments, list from WordNet + a text corpus",
            entries,
            fragments[: args.captions],
            args,
        )
    captions = make_captions(args.captions, generated)
    scenario("stress: template word salad", generated, captions, args)


def scenario(name: str, entries: list[str], captions: list[str], args: argparse.Namespace) -> None:
    """Build, save, load and match `entries` against `captions`; print the table."""
    rows = []
    start = time.perf_counter()
    matcher = QueryMatcher(entries)
    rows.append(("build automaton (s)", time.perf_counter() - start))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "q.aca")
        start = time.perf_counter()
        matcher.save(path)
        rows.append(("save (s)", time.perf_counter() - start))
        rows.append(("saved file (MB)", os.path.getsize(path) / 2**20))
        rows.append(("automaton RSS in a fresh worker (MB)", _worker_rss_mb(path)))
        start = time.perf_counter()
        matcher = QueryMatcher.from_file(path)
        rows.append(("load (s)", time.perf_counter() - start))
    ours = _rate(matcher.match, captions, args.runs)
    raw = _rate(_raw_anchor(entries), captions, args.runs)
    loop = _rate(_metaclip_loop(entries), captions[: args.loop_captions], 1)
    sample = captions[:5000]
    rows += [
        ("ours, token boundaries (captions/s/core)", ours),
        ("raw pyahocorasick, no boundaries (captions/s/core)", raw),
        ("MetaCLIP padded substring loop (captions/s/core)", loop),
        ("ours / raw", ours / raw),
        ("mean matches per caption", statistics.fmean(len(matcher.match(c)) for c in sample)),
        ("mean caption words", statistics.fmean(len(c.split()) for c in sample)),
        ("mean caption characters", statistics.fmean(len(c) for c in sample)),
    ]
    pool = [(f"k{i}", matcher.match(c)) for i, c in enumerate(captions)]
    counts = count_matches(ids for _, ids in pool)
    t = max(1, len(pool) // 1000)
    rows.append(
        (
            "balance keep_sample (samples/s/core)",
            _rate(lambda kv: keep_sample(kv[0], kv[1], counts, t), pool, args.runs),
        )
    )
    print(f"\n{name}: {len(entries)} entries, {len(captions)} captions, median of {args.runs} runs")
    print(f"{'measure':<55}{'value':>14}")
    for label, value in rows:
        print(f"{label:<55}{value:>14,.2f}")


if __name__ == "__main__":
    main()
