"""Fault injection: chosen stages fail a seeded fraction of bundle attempts, and are retried.

    python beam_runner.py ... --fail_stages download,write_shards --fail_fraction 0.3 --fault_seed 1

Why a retry wrapper: Dataflow retries a failed bundle (four attempts in batch, then the job
fails), discards the failed attempt's outputs and counters, and keeps its side effects (files
half written). The Python DirectRunner (`FnApiRunner`) does not retry: one exception fails the job
(`fn_runner.py` raises `RuntimeError(result.error)`; only the legacy `BundleBasedDirectRunner`
retries). So on the DirectRunner, `inject(pipeline, cfg)` wraps the DoFns of the chosen stages in
`RetryingDoFn`, which simulates exactly what Dataflow shows a DoFn: the bundle's elements are
replayed from scratch on a fresh `setup()`, the failed attempt's outputs and Metrics updates are
dropped, its side effects stay. With `--fault_retries runner` the fault only raises, and a runner
that retries (Dataflow, Flink, Spark) does the rest.

A fault is decided by a hash of (seed, stage, bundle fingerprint, attempt) and raised before a
seeded element of the bundle (or after the last one), so a failed attempt has done part of its work.
Injected faults spare a bundle's last local attempt, so the job always finishes; a real exception
that persists through `--fault_max_attempts` attempts fails the job, as on Dataflow.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.window import GlobalWindows

__all__ = [
    "FaultOptions",
    "FaultConfig",
    "InjectedFault",
    "STAGE_LABELS",
    "fault_config",
    "should_fail",
    "fail_point",
    "fingerprint",
    "RetryingDoFn",
    "inject",
]

_LOG = logging.getLogger(__name__)

# Fault-injectable stage name -> label of its composite transform in `build_pipeline`.
STAGE_LABELS = {
    "read": "ReadCandidates",
    "filter_text": "FilterText",
    "dedup_url": "DedupUrls",
    "match_queries": "MatchQueries",
    "language": "DetectLanguage",
    "balance": "BalanceByQuery",
    "download": "DownloadImages",
    "dedup_image": "DedupImages",
    "write_shards": "WriteShards",
    "write_rejects": "WriteRejects",
    "finalize": "Finalize",
}


class FaultOptions(PipelineOptions):
    """Fault injection (testing): seeded failures of bundle attempts in chosen stages."""

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        add = parser.add_argument
        add(
            "--fail_stages",
            default="",
            help=f"Comma-separated stages to fail: {', '.join(STAGE_LABELS)}.",
        )
        add(
            "--fail_fraction",
            type=float,
            default=0.0,
            help="Fraction of bundle attempts that fail.",
        )
        add("--fault_seed", type=int, default=0, help="Seed of the fault decisions.")
        add(
            "--fault_retries",
            default="local",
            choices=("local", "runner"),
            help="local: retry bundles in the DoFn wrapper, as Dataflow does (the DirectRunner does "
            "not retry); runner: only raise, and let a retrying runner retry.",
        )
        add(
            "--fault_max_attempts",
            type=int,
            default=4,
            help="Attempts per bundle before the job fails.",
        )


@dataclass(frozen=True)
class FaultConfig:
    """Which stages fail, how often, with which seed, and who retries."""

    stages: tuple[str, ...] = ()
    fraction: float = 0.0
    seed: int = 0
    retry_locally: bool = True
    max_attempts: int = 4

    @property
    def active(self) -> bool:
        """Whether any fault can fire."""
        return bool(self.stages) and self.fraction > 0


def fault_config(options: PipelineOptions) -> FaultConfig:
    """Parse `FaultOptions` into a `FaultConfig` (unknown stage names are an error)."""
    o = options.view_as(FaultOptions)
    stages = tuple(s.strip() for s in o.fail_stages.split(",") if s.strip())
    unknown = sorted(set(stages) - set(STAGE_LABELS))
    if unknown:
        raise ValueError(f"unknown --fail_stages {unknown}; choose from {sorted(STAGE_LABELS)}")
    if not 0.0 <= o.fail_fraction < 1.0:
        raise ValueError("--fail_fraction must be in [0, 1)")
    retry_locally = o.fault_retries == "local"
    return FaultConfig(stages, o.fail_fraction, o.fault_seed, retry_locally, o.fault_max_attempts)


class InjectedFault(RuntimeError):
    """The failure fault injection raises inside a bundle."""


def _unit(*parts: object) -> float:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def should_fail(cfg: FaultConfig, stage: str, bundle: str, attempt: int) -> bool:
    """Whether attempt `attempt` (1-based) of `bundle` in `stage` fails."""
    return stage in cfg.stages and _unit(cfg.seed, stage, bundle, attempt) < cfg.fraction


def fail_point(cfg: FaultConfig, stage: str, bundle: str, attempt: int, size: int) -> int:
    """Index of the element before which a failing attempt raises (`size`: after the last)."""
    return int(_unit("at", cfg.seed, stage, bundle, attempt) * (size + 1))


def fingerprint(element: object) -> str:
    """A deterministic identity of one element (records by key, groups by their key)."""
    key = getattr(element, "key", None)
    if isinstance(key, str):
        return f"{key}|{getattr(element, 'source', '')}"
    if isinstance(element, tuple) and len(element) == 2 and isinstance(element[0], str | int):
        return repr(element[0])
    if isinstance(element, list):
        return "[" + ",".join(sorted(fingerprint(e) for e in element)) + "]"
    return repr(element) if isinstance(element, str | int | type(None)) else type(element).__name__


class _DeferredTracker:
    """Stands in for Beam's state tracker during an attempt: holds back its Metrics updates."""

    def __init__(self, real: Any) -> None:
        self.real, self.updates = real, []

    def update_metric(self, name: Any, value: Any) -> None:
        self.updates.append((name, value))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _attempt_metrics() -> tuple[Any, _DeferredTracker]:
    from apache_beam.runners.worker import statesampler

    real = statesampler.get_current_tracker()
    deferred = _DeferredTracker(real)
    statesampler.set_current_tracker(deferred)
    return real, deferred


def _end_attempt(real: Any, deferred: _DeferredTracker, commit: bool) -> None:
    from apache_beam.runners.worker import statesampler

    statesampler.set_current_tracker(real)
    if commit and real is not None:  # a committed attempt's counters count, a failed one's do not
        for name, value in deferred.updates:
            real.update_metric(name, value)


def _windowed(output: object) -> object:
    if isinstance(output, pvalue.TaggedOutput):
        return pvalue.TaggedOutput(output.tag, _windowed(output.value))
    if hasattr(output, "windows"):  # already a WindowedValue (from the inner finish_bundle)
        return output
    return GlobalWindows.windowed_value(output)


class RetryingDoFn(beam.DoFn):
    """Run `inner` bundle by bundle with seeded faults; retry a failed bundle from scratch."""

    def __init__(self, inner: beam.DoFn, stage: str, cfg: FaultConfig) -> None:
        self.inner, self.stage, self.cfg = inner, stage, cfg

    def setup(self) -> None:
        self.inner.setup()
        self._failed = Metrics.counter("faults", f"{self.stage}_failed_attempts")
        self._tries: dict[str, int] = {}

    def start_bundle(self) -> None:
        self._elements: list[tuple[object, tuple, dict]] = []

    def process(self, element: object, *args: object, **kwargs: object) -> None:
        self._elements.append((element, args, kwargs))

    def finish_bundle(self) -> Iterator[object]:
        bundle = hashlib.sha256(
            "\n".join(sorted(fingerprint(e) for e, _, _ in self._elements)).encode()
        ).hexdigest()[:16]
        for attempt in range(1, self.cfg.max_attempts + 1):
            try:
                outputs = self._attempt(bundle, attempt)
            except Exception as err:
                self._fail(bundle, attempt, err)
                continue
            return iter([_windowed(o) for o in outputs])
        raise AssertionError("unreachable")

    def _attempt(self, bundle: str, attempt: int) -> list[object]:
        if not self.cfg.retry_locally:  # the runner retries: vary the decision per process try
            self._tries[bundle] = attempt = self._tries.get(bundle, 0) + 1
        spare = self.cfg.retry_locally and attempt >= self.cfg.max_attempts  # the job finishes
        fails = not spare and should_fail(self.cfg, self.stage, bundle, attempt)
        at = fail_point(self.cfg, self.stage, bundle, attempt, len(self._elements)) if fails else -1
        real, deferred = _attempt_metrics()
        outputs: list[object] = []
        ok = False
        try:
            self.inner.start_bundle()
            for i, (element, args, kwargs) in enumerate(self._elements):
                _maybe_raise(i == at, self.stage, bundle, attempt)
                outputs.extend(_elements(self.inner, element, *args, **kwargs))
            _maybe_raise(at == len(self._elements), self.stage, bundle, attempt)
            outputs.extend(self.inner.finish_bundle() or ())
            ok = True
        finally:
            _end_attempt(real, deferred, ok)
        return outputs

    def _fail(self, bundle: str, attempt: int, err: Exception) -> None:
        self._failed.inc()
        last = attempt >= self.cfg.max_attempts or not self.cfg.retry_locally
        _LOG.warning("%s bundle %s attempt %d failed: %s", self.stage, bundle, attempt, err)
        if last:
            raise err
        self.inner.teardown()  # Dataflow discards the DoFn instance of a failed bundle
        self.inner.setup()

    def teardown(self) -> None:
        self.inner.teardown()


def _elements(fn: beam.DoFn, element: object, *args: object, **kwargs: object) -> list[object]:
    """`fn.process`'s outputs as elements (a `process` that yields batches is unbatched)."""
    outputs = list(fn.process(element, *args, **kwargs) or ())
    if not getattr(fn.process, "_beam_yields_batches", False):
        return outputs
    return [
        pvalue.TaggedOutput(o.tag, v) if isinstance(o, pvalue.TaggedOutput) else v
        for o in outputs
        for v in (o.value if isinstance(o, pvalue.TaggedOutput) else o)
    ]


def _maybe_raise(now: bool, stage: str, bundle: str, attempt: int) -> None:
    if now:
        raise InjectedFault(f"injected fault: {stage} bundle {bundle} attempt {attempt}")


def _stage_pardos(pipeline: beam.Pipeline, stages: Iterable[str]) -> list[tuple[Any, str]]:
    """The ParDos of our own DoFns (not Beam's) inside the composites of `stages`."""
    from apache_beam.pipeline import PipelineVisitor

    by_label = {STAGE_LABELS[s]: s for s in stages}
    found: list[tuple[Any, str]] = []

    class _Finder(PipelineVisitor):
        def visit_transform(self, applied: Any) -> None:
            t, top = applied.transform, applied.full_label.split("/", 1)[0]
            fn = getattr(t, "fn", None)
            if isinstance(t, beam.ParDo) and top in by_label and _ours(fn):
                found.append((t, by_label[top]))

    pipeline.visit(_Finder())
    return found


def _ours(fn: object) -> bool:
    return isinstance(fn, beam.DoFn) and not type(fn).__module__.startswith("apache_beam")


def _rewrap(pardo: Any, fn: beam.DoFn) -> None:
    """Swap the DoFn of an already applied ParDo (before the pipeline runs)."""
    from apache_beam.runners.common import DoFnSignature

    for name in ("input_batch_converter", "output_batch_converter"):
        setattr(fn, name, None)  # the wrapper takes and emits elements, never batches
    pardo.fn = pardo.dofn = pardo._cached_fn = fn
    pardo._signature = DoFnSignature(fn)


def inject(pipeline: beam.Pipeline, cfg: FaultConfig) -> int:
    """Wrap the DoFns of `cfg.stages` in `RetryingDoFn`; returns how many were wrapped."""
    if not cfg.active:
        return 0
    pardos = _stage_pardos(pipeline, cfg.stages)
    missing = set(cfg.stages) - {stage for _, stage in pardos}
    if missing:
        raise ValueError(f"no DoFn to fail in stages {sorted(missing)}")
    for pardo, stage in pardos:
        _rewrap(pardo, RetryingDoFn(pardo.fn, stage, cfg))
    _LOG.warning("fault injection on: %s (%d DoFns)", cfg, len(pardos))
    return len(pardos)
