"""The All / Overlap / Clean statistics, templates, the report section and the `wit` plugins."""

from __future__ import annotations

import argparse

import pytest

from dedup.analysis import load_templates, split_stats
from dedup.report import add_analysis, analysis_html
from dedup.stats import binom_sf, clopper_pearson
from pipeline.cli import build_parser


def test_split_stats_counts_intervals_and_test() -> None:
    overlap = [True] * 10 + [False] * 90
    correct = [True] * 9 + [False] + [True] * 45 + [False] * 45
    r = split_stats(correct, overlap, 0.995)
    assert (r["all_n"], r["overlap_n"], r["clean_n"]) == (100, 10, 90)
    assert (r["all_correct"], r["overlap_correct"], r["clean_correct"]) == (54, 9, 45)
    assert r["overlap_acc"] == 0.9 and r["clean_acc"] == 0.5 and r["all_acc"] == 0.54
    assert (r["overlap_ci_low"], r["overlap_ci_high"]) == clopper_pearson(9, 10, 0.995)
    assert r["overlap_minus_clean"] == pytest.approx(0.4)
    assert r["all_minus_clean"] == pytest.approx(0.1 * 0.4)  # overlap share x difference
    assert r["all_minus_clean_ci_low"] == pytest.approx(0.1 * (r["overlap_ci_low"] - 0.5))
    assert r["p_value"] == pytest.approx(binom_sf(9, 10, 0.5))  # 11 / 1024
    assert r["p_value"] < r["p_value_fisher"] < 0.05  # Fisher allows for Clean's uncertainty
    for s in ("all", "overlap", "clean", "overlap_minus_clean", "all_minus_clean"):
        key = s if "minus" in s else f"{s}_acc"
        assert r[f"{s}_ci_low"] <= r[key] <= r[f"{s}_ci_high"]


def test_split_stats_without_overlap() -> None:
    r = split_stats([True, False, True], [False] * 3, 0.95)
    assert r["overlap_n"] == 0 and r["overlap_acc"] is None and r["p_value"] is None
    assert r["all_acc"] == r["clean_acc"] == pytest.approx(2 / 3)
    assert r["all_minus_clean"] is None


def test_load_templates(tmp_path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("# mine\na sketch of a {}.\n\nthe {} again\n")
    assert load_templates(["{} photo", str(f)]) == ("{} photo", "a sketch of a {}.", "the {} again")
    f.write_text("no placeholder\n")
    with pytest.raises(ValueError):
        load_templates([str(f)])


def test_report_section_escapes_and_replaces(tmp_path) -> None:
    r = {"eval_set": "<script>x</script>", "checkpoint": "a&b.pt", "classes": 3}
    r.update(split_stats([True, False, True, True], [True, False, False, True], 0.95))
    assert "&lt;script&gt;" in analysis_html([r]) and "<script>" not in analysis_html([r])
    (tmp_path / "report.html").write_text(
        "<html><body><table></table><!-- analysis:start -->old<!-- analysis:end --></body></html>"
    )
    add_analysis(str(tmp_path), [r])
    add_analysis(str(tmp_path), [r])
    doc = (tmp_path / "report.html").read_text()
    assert "old" not in doc and doc.count("Zero-shot accuracy") == 1 and "a&amp;b.pt" in doc


def test_every_wit_subcommand_loads_once() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    names = list(sub.choices)
    assert len(names) == len(set(names))
    for name in ("demo", "queries", "dedup", "dedup-calibrate", "overlap", "filter", "train"):
        assert name in names, name
    overlap = sub.choices["overlap"]
    assert "analyze" in overlap._subparsers._group_actions[0].choices  # type: ignore[union-attr]


def test_filter_falls_back_when_another_plugin_took_it(capsys) -> None:
    from dedup.cli import register

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    sub.add_parser("filter")  # e.g. a future text filter command
    register(sub)
    assert "dedup-filter" in sub.choices
    assert "taken by another plugin" in capsys.readouterr().err
