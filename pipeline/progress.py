"""Observability of a run: progress lines from the workers, JSON logs, the counters at the end.

    python beam_runner.py ... --progress_interval 5 --log_format json

Every stage counts each record it keeps or drops as a Beam counter (namespace: the stage, name:
`kept` or the drop reason; they show in the Dataflow UI). Locally, when the job runs in the
launching process on a terminal (the DirectRunner's default in-memory mode), tqdm bars show
candidates read, images downloaded and shards written with their rates (`pipeline.bars`);
otherwise each worker process prints a progress line every `--progress_interval` seconds (to
stderr; a JSON object per line with `--log_format json`). After the run `format_metrics`
tabulates the committed counters that `PipelineResult.metrics()` returns. Local worker
processes learn the settings from environment variables that `configure` sets in the launching
process.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import bars, faults
from pipeline.usage import at_least

__all__ = [
    "RunOptions",
    "configure",
    "tick",
    "JsonFormatter",
    "counters",
    "format_metrics",
    "metrics_event",
    "execute",
]

_ENV_INTERVAL = "WIT_PROGRESS_INTERVAL"
_ENV_FORMAT = "WIT_LOG_FORMAT"


class RunOptions(PipelineOptions):
    """How a run reports itself: progress lines and log format."""

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        parser.add_argument(
            "--progress_interval",
            type=at_least(0, float),
            default=10.0,
            help="Seconds between progress lines of each local worker (0: none).",
        )
        parser.add_argument(
            "--log_format",
            default="text",
            choices=("text", "json"),
            help="text, or json: one JSON object per log and progress line (structured logs).",
        )


class JsonFormatter(logging.Formatter):
    """Format a log record as one JSON object (ts, level, logger, message, extra `event` data)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "event", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, sort_keys=True, default=str)


def configure(options: PipelineOptions) -> None:
    """In the launching process: log format, and the progress settings local workers inherit."""
    o = options.view_as(RunOptions)
    os.environ[_ENV_INTERVAL] = str(o.progress_interval)
    os.environ[_ENV_FORMAT] = o.log_format
    _STATE.reset()
    if o.log_format == "text" and o.progress_interval > 0 and bars.interactive():
        _STATE.show_bars()
    if o.log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root = logging.getLogger()
        root.handlers[:] = [handler]


class _State:
    """This process's counts since it started, and when it last printed them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}
        self.start = self.last = time.monotonic()
        self.interval = float(os.environ.get(_ENV_INTERVAL, "10") or 0)
        self.json = os.environ.get(_ENV_FORMAT) == "json"
        self.bars: dict[str, bars.Bar] = {}
        self.other: dict[str, int] = {}
        self.pid = 0

    def show_bars(self) -> None:
        """Draw tqdm bars for the build's main counts (in this process only)."""
        self.close()
        self.pid = os.getpid()
        for i, (stage, (desc, unit)) in enumerate(_BARS.items()):
            self.bars[stage] = bars.Bar(desc, unit=unit, position=i)

    def close(self) -> None:
        """Finish the bars, if any."""
        for b in self.bars.values():
            b.close()
        self.bars = {}

    def bar_tick(self, stage: str, name: str, n: int = 1) -> bool:
        """Advance the bar of `stage` if bars are shown here; False if they are not."""
        if not self.bars or os.getpid() != self.pid:
            return False
        b = self.bars.get(stage)
        if b is not None and (stage == "read" or name in ("kept", "written")):
            b.update(n)
        elif b is not None:  # a failed download, a shard skipped on resume
            self.other[stage] = self.other.get(stage, 0) + n
            b.update(0, **{"failed" if stage == "download" else "skipped": self.other[stage]})
        return True


# The build's bars: stage -> (what is counted, unit); "read" counts every candidate read.
_BARS = {"read": ("candidates read", "cand"), "download": ("images downloaded", "img")}
_BARS["shards"] = ("shards written", "shard")
_STATE = _State()


def tick(stage: str, name: str, n: int = 1) -> None:
    """Count `n` records of `stage` (`kept` or a drop reason); print progress when it is due."""
    state = _STATE
    with state.lock:
        per_stage = state.counts.setdefault(stage, {})
        per_stage[name] = per_stage.get(name, 0) + n
        if state.bar_tick(stage, name, n):
            return
        now = time.monotonic()
        if state.interval <= 0 or now - state.last < state.interval:
            return
        state.last = now
        line = _progress_line(state, now)
    print(line, file=sys.stderr, flush=True)


def _progress_line(state: _State, now: float) -> str:
    elapsed = now - state.start
    if state.json:
        event = {"event": "progress", "pid": os.getpid(), "elapsed_s": round(elapsed, 1)}
        return json.dumps({**event, "stages": state.counts}, sort_keys=True)
    parts = [
        f"{stage} {sum(c.values())} (kept {c.get('kept', 0)})" for stage, c in state.counts.items()
    ]
    return f"[wit progress] {elapsed:6.1f}s pid {os.getpid()}: " + " | ".join(parts)


def counters(result: Any) -> dict[str, dict[str, int]]:
    """Committed counters of a finished run, {namespace: {name: value}} (attempted if no commits)."""
    out: dict[str, dict[str, int]] = {}
    for c in result.metrics().query()["counters"]:
        value = c.committed if c.committed is not None else c.attempted
        ns = out.setdefault(c.key.metric.namespace, {})
        ns[c.key.metric.name] = ns.get(c.key.metric.name, 0) + int(value or 0)
    return {ns: dict(sorted(names.items())) for ns, names in sorted(out.items())}


def format_metrics(table: dict[str, dict[str, int]], seconds: float) -> str:
    """The counters as a table: per stage, records kept, then every other counter (drop reasons)."""
    lines = [
        f"Beam counters ({seconds:.1f} s)",
        f"  {'stage':<16}{'kept':>9}  drops and other counters",
    ]
    for ns, names in table.items():
        others = sorted(((k, v) for k, v in names.items() if k != "kept"), key=lambda kv: -kv[1])
        text = ", ".join(f"{k} {v}" for k, v in others)
        lines.append(f"  {ns:<16}{names.get('kept', ''):>9}  {text}")
    return "\n".join(lines)


def metrics_event(table: dict[str, dict[str, int]], seconds: float) -> str:
    """The counters as one JSON line (for `--log_format json`)."""
    return json.dumps({"event": "counters", "seconds": round(seconds, 1), "counters": table})


def execute(pipeline: Any, options: PipelineOptions) -> dict[str, dict[str, int]]:
    """Run a built pipeline to completion (faults injected if asked); print and return its counters."""
    configure(options)
    faults.inject(pipeline, faults.fault_config(options))
    start = time.monotonic()
    try:
        result = pipeline.run()
        result.wait_until_finish()
    finally:
        _STATE.close()
    table = counters(result)
    seconds = time.monotonic() - start
    json_logs = options.view_as(RunOptions).log_format == "json"
    print(
        metrics_event(table, seconds) if json_logs else format_metrics(table, seconds), flush=True
    )
    return table
