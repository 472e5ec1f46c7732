"""Per-module mutation scores from a `mutmut run` (what `make mutation` prints at the end).

    python tests/mutation_scores.py [mutants/]     # after `mutmut run`, from the repo root

Reads mutmut's per-file results (`mutants/**/*.py.meta`, JSON with an exit code per mutant).
Score = killed (a test failed, or the mutant timed out) / checked mutants; "no tests" mutants
(no selected test reaches the function) count as not killed. Survivors judged equivalent are
listed, with why, in docs/testing.md.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from collections import Counter

_KILLED = {1, 3, 36, 24, -24, 152, 255}  # a failing test, or a timeout (an endless loop)
_SURVIVED = {0}
_NO_TESTS = {5, 33}


def _status(code: int | None) -> str:
    if code is None:
        return "not checked"
    if code in _KILLED:
        return "killed"
    if code in _SURVIVED:
        return "survived"
    return "no tests" if code in _NO_TESTS else "other"


def scores(root: str = "mutants") -> dict[str, Counter[str]]:
    """Mutant statuses counted per mutated module (`pipeline/fetch.py`, ...)."""
    out: dict[str, Counter[str]] = {}
    for meta in sorted(glob.glob(os.path.join(root, "**", "*.py.meta"), recursive=True)):
        codes = json.load(open(meta)).get("exit_code_by_key", {})
        counts = Counter(_status(code) for code in codes.values())
        if codes:
            out[os.path.relpath(meta, root).removesuffix(".meta")] = counts
    return out


def table(by_module: dict[str, Counter[str]]) -> str:
    """A markdown table: mutants, killed, survived, no tests, not checked, score."""
    lines = ["| module | mutants | killed | survived | no tests | not checked | score |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for module, c in by_module.items():
        checked = c["killed"] + c["survived"] + c["no tests"] + c["other"]
        score = f"{100 * c['killed'] / checked:.0f}%" if checked else "-"
        lines.append(
            f"| {module} | {sum(c.values())} | {c['killed']} | {c['survived']} "
            f"| {c['no tests']} | {c['not checked']} | {score} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    result = scores(sys.argv[1] if len(sys.argv) > 1 else "mutants")
    if not result:
        sys.exit("no mutmut results under mutants/: run `mutmut run` first")
    print(table(result))
