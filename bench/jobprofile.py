"""Where each µs per candidate of the DirectRunner job goes: sampled stacks -> cost categories.

    py-spy record --gil -r 250 -f raw -o job.spy -- .venv/bin/python beam_runner.py ...
    .venv/bin/python bench/jobprofile.py job.spy --candidates 24973 [--cpu_s 6.2]

Each sample (a stack, root to leaf) is charged to the first category found walking from the
leaf towards the root, so a stage's own code, the Records it builds and the Beam machinery
around it are told apart. Categories marked `runner` are the DirectRunner's own (its in-memory
shuffle and buffers in `fn_api_runner/`); `sdk` ones run in the SDK harness that Dataflow's
workers run too (`runners/worker/`, coders, the fused DoFn calls). With `--cpu_s` (the run's
measured user+sys CPU seconds) the shares are scaled to µs per candidate without py-spy's own
slow-down.
"""

from __future__ import annotations

import argparse
import collections
import re

__all__ = ["categorize", "profile_table"]

# (category, pattern on "function (file:line)"); the first match from the leaf wins.
_RULES = [
    ("start-up: imports", r"importlib"),
    (
        "reader: read_wat (gzip, json, urljoin, Record)",
        r"pipeline/(read|warcgz|watlinks)\.py|warcio/",
    ),
    ("rejects: rows, sort, parquet", r"pipeline/(accounting|rejects)\.py|pyarrow/"),
    ("filter_text: clean + url_ok + caption_ok", r"pipeline/text\.py"),
    ("match_queries: Aho-Corasick", r"queries/(matcher|text)\.py"),
    ("progress.tick + counters per record", r"pipeline/progress\.py|apache_beam/metrics/"),
    ("Record copies (reject/replace, key hash)", r"pipeline/schema\.py|dataclasses\.py"),
    ("stage DoFn bodies (emit, sort, key)", r"pipeline/stages\.py|queries/beam_balance\.py"),
    ("runner: in-memory shuffle + buffers (DirectRunner only)", r"fn_api_runner/"),
    ("sdk: pickling Records (PickleCoder)", r"PickleCoder|pickle"),
    ("sdk: element coding + data plane", r"apache_beam/coders/|data_plane\.py"),
    ("sdk: per-element dispatch (fused DoFns, Cython)", r"runners/worker/|runners/common"),
    ("pipeline construction + options", r"apache_beam/|argparse|inspect\.py|typing"),
]


def categorize(stack: str) -> str:
    """The cost category of one sampled stack ("root;...;leaf" frames)."""
    frames = stack.split(";")
    if not any("_execute_bundle" in f or "process_bundle" in f for f in frames):
        imports = any("importlib" in f for f in frames)
        return "start-up: imports" if imports else "start-up: construction, launch, report"
    for frame in reversed(frames):
        for name, pattern in _RULES[1:]:
            if re.search(pattern, frame):
                return name
    return "other (Python builtins, stdlib)"


def profile_table(raw_lines: list[str], candidates: int, cpu_s: float = 0.0) -> str:
    """A markdown table of the samples taken while bundles ran (start-up left out): category,
    samples, share, µs per candidate (`cpu_s`: the run's CPU beyond start-up, to scale to)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw_lines:
        stack, _, n = line.rstrip().rpartition(" ")
        if stack and not categorize(stack).startswith("start-up"):
            counts[categorize(stack)] += int(n)
    total = sum(counts.values())
    scale = cpu_s / total if cpu_s else 1 / 250  # seconds per sample (250 Hz if not scaled)
    rows = ["| where | samples | share | µs per candidate |", "|---|---:|---:|---:|"]
    for name, n in counts.most_common():
        us = n * scale / candidates * 1e6
        rows.append(f"| {name} | {n} | {100 * n / total:.1f}% | {us:.1f} |")
    rows.append(f"| **total** | {total} | 100% | {total * scale / candidates * 1e6:.1f} |")
    return "\n".join(rows)


def main() -> None:
    """Print the table of one py-spy raw profile."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw", help="py-spy `record -f raw` output.")
    ap.add_argument("--candidates", type=int, required=True)
    ap.add_argument("--cpu_s", type=float, default=0.0, help="CPU s of the run beyond start-up.")
    args = ap.parse_args()
    with open(args.raw) as f:
        print(profile_table(f.readlines(), args.candidates, args.cpu_s))


if __name__ == "__main__":
    main()
