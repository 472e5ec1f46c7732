"""`wit dedup` end to end on tiny shards with planted copies, then query, report and filter."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from dedup.wds import iter_tar
from pipeline.cli import main


@pytest.fixture(scope="module")
def run(world: dict) -> dict:
    out = world["root"] / "overlap"
    rc = main(
        [
            "dedup",
            "--shards",
            str(world["shards"]),
            "--eval",
            f"toy={world['eval']}",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    return {**world, "out": out}


def test_every_planted_copy_found_nothing_else(run: dict) -> None:
    rows = pq.read_table(run["out"] / "overlap.parquet").to_pylist()
    flagged = {(r["key"], r["eval_id"]) for r in rows if r["duplicate"]}
    assert flagged == set(run["planted"].items())
    keys = (run["out"] / "exclusion" / "keys.txt").read_text().split()
    assert keys == sorted(run["planted"])


def test_summary_counts(run: dict) -> None:
    (s,) = json.loads((run["out"] / "summary.json").read_text())
    assert (s["all"], s["overlap"], s["clean"]) == (
        16,
        len(run["planted"]),
        16 - len(run["planted"]),
    )
    assert s["descriptor"].startswith("classical") and s["threshold"] > 0


def test_report_escapes_hostile_captions(run: dict) -> None:
    html = (run["out"] / "report.html").read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html or "copy" in html
    assert not list(run["out"].glob("hist_*.png"))  # inline: report.html stands alone
    assert 'src="data:image/png;base64,' in (run["out"] / "report.html").read_text()


def test_overlap_query(run: dict, capsys: pytest.CaptureFixture) -> None:
    sql = "SELECT count(*) AS n FROM overlap WHERE duplicate"
    assert main(["overlap", "query", str(run["out"]), sql]) == 0
    assert capsys.readouterr().out.split() == ["n", str(len(run["planted"]))]
    assert main(["overlap", "query", str(run["out"]), "SELECT sum(clean) FROM summary"]) == 0


def test_filter_reshard_honours_exclusion(run: dict) -> None:
    clean = run["root"] / "clean"
    rc = main(
        [
            "filter",
            "--shards",
            str(run["shards"]),
            "--exclude",
            str(run["out"] / "exclusion" / "keys.txt"),
            "--out",
            str(clean),
        ]
    )
    assert rc == 0
    kept = {k for tar in sorted(clean.glob("*.tar")) for k, _ in iter_tar(str(tar))}
    assert len(kept) == 40 and not kept & set(run["planted"])
    assert sum(json.loads((clean / "sizes.json").read_text()).values()) == 40


def test_calibrate_command(world: dict, capsys: pytest.CaptureFixture) -> None:
    assert main(["dedup-calibrate", "--eval", f"toy={world['eval']}", "--max-images", "16"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["toy"]["threshold"] >= 0.5 and result["toy"]["positives"] == 16
