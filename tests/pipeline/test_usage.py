"""The shared pieces of failing loud: checked types, either spelling, one-line errors, --help."""

from __future__ import annotations

import argparse

import pytest

from pipeline.usage import (
    Parser,
    UsageError,
    above,
    at_least,
    cidr_list,
    resolve_spec,
    respell,
    run_cli,
    unknown_flag_message,
)
from train.launch import check_finite


@pytest.mark.parametrize(
    "kind,text,ok",
    [
        (at_least(1), "1", True),
        (at_least(1), "0", False),
        (at_least(1), "1.5", False),
        (at_least(0, float), "nan", False),
        (at_least(0, float), "inf", False),
        (above(0), "0", False),
        (above(0), "0.01", True),
        (at_least(1, hi=100), "101", False),
    ],
)
def test_bounded_types(kind, text, ok):
    if ok:
        kind(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="must be"):
            kind(text)


def test_network_and_resolve_specs():
    assert cidr_list("127.0.0.0/8, 10.0.0.0/8") == "127.0.0.0/8, 10.0.0.0/8"
    assert resolve_spec("*.sample.test=127.0.0.1:8080") == "*.sample.test=127.0.0.1:8080"
    for check, bad in ((cidr_list, "notacidr"), (resolve_spec, "a=b:1"), (resolve_spec, "x")):
        with pytest.raises(argparse.ArgumentTypeError):
            check(bad)


def test_respell_accepts_the_other_spelling_only_for_known_flags():
    known = {"--max_per_query", "--batch-size"}
    args = ["--max-per-query=3", "--batch_size", "4", "--other-flag", "--", "--max-per-query"]
    assert respell(args, known) == [
        "--max_per_query=3", "--batch-size", "4", "--other-flag", "--", "--max-per-query",
    ]  # fmt: skip


def test_parser_no_prefix_matching_defaults_and_one_line_errors(capsys):
    p = Parser(prog="t")
    p.add_argument("--shards", default="x")
    p.add_argument("--batch-size", type=at_least(1), default=32)
    assert p.parse_args(["--batch_size", "2"]).batch_size == 2
    help_text = p.format_help()
    assert "(default: 32)" in help_text and "Allowed: an integer >= 1" in help_text
    with pytest.raises(SystemExit) as exit_:
        p.parse_args(["--shard", "y"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert "unknown option --shard (did you mean --shards?)" in err


def test_run_cli_turns_usage_errors_into_one_line(capsys):
    def body():
        raise UsageError("--input x:\n no file matches")

    assert run_cli(body, "prog") == 2
    assert capsys.readouterr().err == "prog: error: --input x: no file matches\n"


def test_unknown_flag_hint():
    assert unknown_flag_message("--inptu=x", ["--input", "--output"]).endswith("--input?)")
    assert unknown_flag_message("--zzz", ["--input"]) == "unknown option --zzz"


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_loss_is_an_error(loss):
    with pytest.raises(UsageError, match="training diverged"):
        check_finite(loss, 7)
    check_finite(1.5, 7)


def test_beam_runner_help_shows_defaults_and_ranges(capsys):
    import beam_runner

    assert beam_runner.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "(default: 10000)" in out and "Allowed: an integer >= 1" in out
