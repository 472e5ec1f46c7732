"""Common Crawl reading side by side: cc2dataset, our WAT and WARC readers, plain decompression.

    python bench/read.py [--pages 5000] [--runs 3] [--cc2dataset /path/to/venv/bin/python]

cc2dataset cannot share our virtualenv (it pulls pyspark and its own pins), so give it its own:
`python -m venv /tmp/cc2d && /tmp/cc2d/bin/pip install cc2dataset`; without `--cc2dataset` its
rows are left out. The input is bench/cc_corpus.py's seeded Common Crawl-shaped WARC and WAT
pair (built once under the bench cache). Every row runs in its own fresh process, which repeats
the work `--runs` times and reports its CPU time (`time.process_time`, so per core; the table
gives medians) and its peak resident memory:
- `gunzip (zlib)` and `gunzip (ISA-L)`: plain decompression of the same file, the floor;
- `cc2dataset`: its own per-file function, `process_wat(path, "image_only")` (every `IMG@/src`,
  as ours reads them), and with its default `"image"` (only links with alt text);
- `ours, WAT` and `ours, WARC`: `pipeline.read.read_wat` / `read_warc`, yielding `Record`s,
  with two rows before them that show where the WAT reader's time goes: the record layer alone
  (`pipeline.warcgz`), then with the JSON and URL work (`pipeline.watlinks`) but no `Record`s.
Then the (url, alt) pairs of ours and cc2dataset on the WAT file are compared and every
difference is put in a class with its reason.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.cc_corpus import corpus  # noqa: E402

_RUN = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
{setup}
path, cpu = {path!r}, []
for _ in range({runs}):
    start = time.process_time()
    items = {count}
    cpu.append(time.process_time() - start)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"cpu": cpu, "items": items, "rss_mb": rss}}))
"""
_GUNZIP = """{imp}
def gunzip(path):
    with {mod}.open(path) as f:
        while f.read(1 << 20):
            pass
    return 0"""
_ISAL = _GUNZIP.format(imp="from isal import igzip", mod="igzip")
_CC2D_SETUP = "from cc2dataset.main import process_wat\nfrom loguru import logger\nlogger.remove()"
_CC2D = "sum(1 for _ in process_wat(path, {mode!r}))"
_OURS = "sum(1 for r in read_{kind}(path) if not r.rejected)"
_STEPS_SETUP = "from pipeline.warcgz import iter_records\nfrom pipeline.watlinks import wat_images"
_STEPS = [
    ("ours, WAT: records only (inflate + WARC headers)", "sum(0 for _ in iter_records(path))"),
    (
        "ours, WAT: + JSON and URLs, no `Record`s",
        "sum(len(wat_images(r.block)[1]) for r in iter_records(path) if r.rec_type == 'metadata')",
    ),
]
_PAIRS = {
    "cc2dataset": "[(u, a) for _, u, a, _, _ in process_wat(path, 'image_only')]",
    "ours": "[(r.url, r.caption) for r in read_wat(path) if not r.rejected]",
}


def _run(python: str, setup: str, count: str, path: str, runs: int) -> dict:
    """Run `count` `runs` times in a fresh `python` process: CPU seconds, items, peak RSS."""
    code = _RUN.format(root=ROOT, setup=setup, path=path, runs=runs, count=count)
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"{python} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rows(warc: str, wat: str, runs: int, cc2d: str | None) -> list[tuple[str, str, dict]]:
    """(label, file, result) of every row."""
    me = sys.executable
    rows = [
        (
            "gunzip (zlib)",
            wat,
            _run(me, _GUNZIP.format(imp="import gzip", mod="gzip"), "gunzip(path)", wat, runs),
        ),
        (
            "gunzip (ISA-L)",
            wat,
            _run(me, _ISAL, "gunzip(path)", wat, runs),
        ),
    ]
    if cc2d:
        for mode in ("image_only", "image"):
            result = _run(cc2d, _CC2D_SETUP, _CC2D.format(mode=mode), wat, runs)
            rows.append((f"cc2dataset ({mode})", wat, result))
    setup = "from pipeline.read import read_wat, read_warc"
    for label, count in _STEPS:  # where our time goes: records only, then + JSON and URLs
        rows.append((label, wat, _run(me, _STEPS_SETUP, count, wat, runs)))
    rows.append(("ours, WAT", wat, _run(me, setup, _OURS.format(kind="wat"), wat, runs)))
    rows.append(
        (
            "gunzip (ISA-L)",
            warc,
            _run(me, _ISAL, "gunzip(path)", warc, runs),
        )
    )
    rows.append(("ours, WARC", warc, _run(me, setup, _OURS.format(kind="warc"), warc, runs)))
    return rows


def _print_table(rows: list[tuple[str, str, dict]]) -> None:
    anchor = next((r for label, _, r in rows if label == "cc2dataset (image_only)"), None)
    print(
        "| reader | file | MB | CPU s (median) | MB/s per core | candidates | candidates/s per core | peak RSS MB | CPU vs cc2dataset |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, path, r in rows:
        mb, cpu = os.path.getsize(path) / 1e6, statistics.median(r["cpu"])
        kind = "WAT" if ".wat." in path else "WARC"
        rate = f"{r['items'] / cpu:,.0f}" if r["items"] else ""
        ratio = f"{statistics.median(anchor['cpu']) / cpu:.2f}x" if anchor and kind == "WAT" else ""
        print(
            f"| {label} | {kind} | {mb:.1f} | {cpu:.2f} | {mb / cpu:.1f} | {r['items'] or ''} | {rate} | {r['rss_mb']:.0f} | {ratio} |"
        )


def _pairs(python: str, setup: str, expr: str, path: str) -> list[tuple[str, str]]:
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        count = f"open({out.name!r}, 'w').write(json.dumps({expr})) and 0"
        _run(python, setup, count, path, 1)
        return [tuple(p) for p in json.load(out)]  # type: ignore[misc]


def _why(url: str, ours: bool) -> str:
    """The reason a pair is found by one tool only."""
    if ours and not url.startswith(("http://", "https://")):
        return "ours keeps non-http(s) URLs (data:, ...); cc2dataset drops them"
    if not ours and url != url.strip():
        return "cc2dataset keeps surrounding whitespace in URLs; ours strips it"
    if not ours and not url.startswith(("http://", "https://")):
        return "cc2dataset leaves a URL unresolved"
    return "other (see examples)"


def compare_pairs(wat: str, cc2d: str) -> None:
    """Print how the (url, alt) pairs of ours and cc2dataset differ, by reason."""
    theirs = Counter(_pairs(cc2d, _CC2D_SETUP, _PAIRS["cc2dataset"], wat))
    ours = Counter(
        _pairs(sys.executable, "from pipeline.read import read_wat", _PAIRS["ours"], wat)
    )
    print(
        f"\n(url, alt) pairs: ours {sum(ours.values()):,}, cc2dataset {sum(theirs.values()):,}, "
        f"in both {sum((ours & theirs).values()):,}"
    )
    reasons: Counter = Counter()
    examples: dict[str, tuple[str, str]] = {}
    for side, only in (("ours", ours - theirs), ("cc2dataset", theirs - ours)):
        for (url, alt), n in only.items():
            why = f"only {side}: " + _why(url, side == "ours")
            reasons[why] += n
            examples.setdefault(why, (url, alt))
    for why, n in reasons.most_common():
        print(f"- {why}: {n:,} (e.g. {examples[why][0][:90]!r})")


def main() -> None:
    """Build the corpus, run every reader, print the table and the pair comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=5000, help="Captures in the corpus.")
    ap.add_argument("--seed", type=int, default=0, help="Seed of the corpus.")
    ap.add_argument("--runs", type=int, default=3, help="Repetitions per reader (median).")
    ap.add_argument("--cc2dataset", help="Python of a virtualenv with cc2dataset installed.")
    args = ap.parse_args()
    warc, wat = corpus(args.pages, args.seed)
    _print_table(_rows(warc, wat, args.runs, args.cc2dataset))
    if args.cc2dataset:
        compare_pairs(wat, args.cc2dataset)


if __name__ == "__main__":
    main()
