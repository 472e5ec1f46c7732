"""From command-line arguments to a checked build: Beam options strictly parsed, inputs verified.

    options, cfg = prepare_build(argv)   # raises UsageError, in one line, on any mistake

Options meant for Beam are the ones `PipelineOptions` knows (every subclass imported, ours
included) and nothing else: an unknown flag is an error, not a warning. `--a-b` is accepted for
`--a_b` (Beam's spelling). Then every path the build reads or writes is checked here, at launch.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from pipeline.faults import fault_config
from pipeline.preflight import check_file, check_format, check_matches, check_output, check_queries
from pipeline.usage import UsageError, respell, unknown_flag_message

__all__ = ["beam_parser", "check_beam_args", "prepare_build", "check_build"]


class _StrictParser(_BeamArgumentParser):
    """Beam's parser, raising a one-line `UsageError` where argparse would print and exit."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(message)


def beam_parser() -> argparse.ArgumentParser:
    """A parser holding every option of every `PipelineOptions` subclass imported so far."""
    import pipeline.build  # noqa: F401 - imports every PipelineOptions subclass of the build
    import pipeline.faults  # noqa: F401 - FaultOptions
    import pipeline.progress  # noqa: F401 - RunOptions

    parser = _StrictParser(allow_abbrev=False, add_help=False)
    classes = {str(cls): cls for cls in PipelineOptions.__subclasses__()}
    for cls in classes.values():
        cls._add_argparse_args(parser)  # what PipelineOptions.get_all_options does
    return parser


def check_beam_args(args: list[str], own: Iterable[str] = ()) -> list[str]:
    """`args` with Beam's spelling; raise on an unknown flag, a stray value or a bad value.

    `own`: the calling command's own flags, suggested first for a misspelt one.
    """
    parser = beam_parser()
    known = parser._option_string_actions
    args = respell(args, known)
    _, unknown = parser.parse_known_args(args)
    if unknown:
        first = unknown[0]
        if first.startswith("-"):
            own = [f for f in own if f.startswith("--")]
            hint = unknown_flag_message(first, own)
            raise UsageError(hint if "did you mean" in hint else unknown_flag_message(first, known))
        raise UsageError(f"unexpected argument {first!r} (options are written --name=value)")
    return args


def check_build(cfg: Any) -> None:
    """Every path a build reads exists and holds something; its output folder can be written."""
    from pipeline.read import expand_input

    patterns = [p.strip() for p in cfg.read.input.split(",") if p.strip()]
    paths = check_matches(patterns, "--input", lambda p: expand_input(p, cfg.read.paths_prefix))
    check_format(paths[0], cfg.read.input_format)
    check_queries(cfg.queries)
    check_output(cfg.output, "--output")


def _read_blocklists(options: PipelineOptions) -> None:
    from pipeline.options import WitOptions

    o = options.view_as(WitOptions)
    for flag, path in (
        ("--caption_blocklist", o.caption_blocklist),
        ("--domain_blocklist", o.domain_blocklist),
    ):
        if path:
            check_file(path, flag)


def _check_runner(options: PipelineOptions) -> None:
    """A `--runner` Beam can create (name known, its extra installed)."""
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.runners.runner import create_runner

    name = options.view_as(StandardOptions).runner
    if not name or not isinstance(name, str):
        return
    try:
        create_runner(name)
    except ValueError as err:
        raise UsageError(f"--runner {name}: {err}") from None
    except ImportError as err:
        raise UsageError(
            f"--runner {name} needs a Beam extra that is not installed ({err})"
        ) from None


def prepare_build(argv: list[str]) -> tuple[PipelineOptions, Any]:
    """Parse and check a build's arguments; returns (Beam options, BuildConfig)."""
    from pipeline import storage
    from pipeline.options import build_config

    args = check_beam_args(list(argv))
    options = PipelineOptions(args)
    _check_runner(options)
    try:
        faults = fault_config(options)  # its stage names and fraction
    except ValueError as err:
        raise UsageError(str(err)) from None
    if faults.max_attempts < 1:
        raise UsageError(f"--fault_max_attempts must be >= 1, got {faults.max_attempts}")
    _read_blocklists(options)
    cfg = build_config(options)
    if cfg.s3_endpoint_url:
        storage.set_s3_endpoint(cfg.s3_endpoint_url)
    check_build(cfg)
    return options, cfg
