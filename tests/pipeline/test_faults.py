"""Fault injection: seeded decisions, and Dataflow-like bundle retries on the DirectRunner."""

from __future__ import annotations

import os

import apache_beam as beam
import pytest
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import faults
from pipeline.faults import FaultConfig, fail_point, fault_config, fingerprint, should_fail
from pipeline.schema import Record

CFG = FaultConfig(stages=("filter_text",), fraction=0.3, seed=1)


def test_decisions_are_seeded_and_near_the_fraction():
    decisions = [should_fail(CFG, "filter_text", f"b{i}", 1) for i in range(20000)]
    assert decisions == [should_fail(CFG, "filter_text", f"b{i}", 1) for i in range(20000)]
    assert 0.28 < sum(decisions) / len(decisions) < 0.32
    other = FaultConfig(("filter_text",), 0.3, seed=2)
    assert decisions != [should_fail(other, "filter_text", f"b{i}", 1) for i in range(20000)]
    assert not any(should_fail(CFG, "download", f"b{i}", 1) for i in range(1000))
    assert {fail_point(CFG, "filter_text", f"b{i}", 1, 3) for i in range(200)} == {0, 1, 2, 3}


def test_fingerprints_are_stable_and_order_free():
    a, b = Record("http://a/", "x", key="aa", source="f#1"), Record("http://b/", "y", key="bb")
    assert fingerprint(a) == "aa|f#1"
    assert fingerprint([a, b]) == fingerprint([b, a])
    assert fingerprint(("00003", [a, b])) == fingerprint(("00003", [b]))
    assert fingerprint(None) == "None"


def test_options_parse_and_validate():
    opts = PipelineOptions(["--fail_stages", "download,write_shards", "--fail_fraction", "0.3"])
    cfg = fault_config(opts)
    assert cfg.stages == ("download", "write_shards") and cfg.active and cfg.retry_locally
    assert not fault_config(PipelineOptions([])).active
    with pytest.raises(ValueError, match="unknown"):
        fault_config(PipelineOptions(["--fail_stages", "nope"]))


class _SideEffectFn(beam.DoFn):
    """Squares numbers, counts them, and appends each to a log file (a side effect)."""

    def __init__(self, log: str) -> None:
        self.log = log

    def setup(self) -> None:
        self.counter = Metrics.counter("filter_text", "kept")

    def process(self, n: int):
        with open(self.log, "a") as f:
            f.write(f"{n}\n")
        self.counter.inc()
        yield n * n if n % 2 else beam.pvalue.TaggedOutput("odd", n)


class _Stage(beam.PTransform):
    def __init__(self, log: str) -> None:
        super().__init__()
        self.log = log

    def expand(self, pcoll):
        return pcoll | "Square" >> beam.ParDo(_SideEffectFn(self.log)).with_outputs(
            "odd", main="kept"
        )


def _run(tmp_path, cfg: FaultConfig, name: str):
    log = str(tmp_path / f"{name}.log")
    p = beam.Pipeline("DirectRunner")
    out = p | beam.Create(range(40)) | "FilterText" >> _Stage(log)
    out.kept | "WriteKept" >> beam.io.WriteToText(str(tmp_path / f"{name}-kept"))
    out.odd | "WriteOdd" >> beam.io.WriteToText(str(tmp_path / f"{name}-odd"))
    wrapped = faults.inject(p, cfg)
    result = p.run()
    result.wait_until_finish()
    counts = {
        (c.key.metric.namespace, c.key.metric.name): c.committed
        for c in result.metrics().query()["counters"]
    }
    outputs = sorted(
        open(os.path.join(tmp_path, f)).read()
        for f in os.listdir(tmp_path)
        if "-" in f and f.startswith(name)
    )
    return wrapped, counts, outputs, open(log).read().split()


def _failing_seed(fraction: float) -> int:
    """A seed under which the one bundle of the test fails once, then succeeds."""
    for seed in range(100):
        cfg = FaultConfig(("filter_text",), fraction, seed)
        tries = [should_fail(cfg, "filter_text", b, 1) for b in _bundles()]
        if all(tries):
            return seed
    raise AssertionError("no seed")


def _bundles():
    import hashlib

    body = "\n".join(sorted(fingerprint(n) for n in range(40)))
    return [hashlib.sha256(body.encode()).hexdigest()[:16]]


def test_retried_bundle_gives_clean_outputs_and_counters(tmp_path):
    seed = _failing_seed(0.5)
    clean = _run(tmp_path, FaultConfig(), "clean")
    faulty = _run(tmp_path, FaultConfig(("filter_text",), 0.5, seed), "faulty")
    assert clean[0] == 0 and faulty[0] == 1
    assert faulty[2] == clean[2]  # outputs: no duplicate, none missing
    assert faulty[1][("filter_text", "kept")] == clean[1][("filter_text", "kept")] == 40
    assert faulty[1][("faults", "filter_text_failed_attempts")] >= 1
    assert len(faulty[3]) >= len(clean[3])  # a failed attempt's side effects stay, like Dataflow


def test_injected_faults_spare_the_last_attempt(tmp_path):
    cfg = FaultConfig(("filter_text",), 0.999999, seed=0, max_attempts=3)
    wrapped, counts, outputs, _ = _run(tmp_path, cfg, "spared")
    assert counts[("faults", "filter_text_failed_attempts")] == 2
    assert counts[("filter_text", "kept")] == 40


class _BrokenFn(beam.DoFn):
    def process(self, n: int):
        raise ValueError(f"broken on {n}")


def test_a_real_error_fails_the_job_after_max_attempts():
    p = beam.Pipeline("DirectRunner")
    _ = p | beam.Create([1, 2]) | "FilterText" >> beam.ParDo(_BrokenFn())
    assert faults.inject(p, FaultConfig(("filter_text",), 0.1, max_attempts=2)) == 1
    with pytest.raises(Exception, match="broken on"):
        p.run().wait_until_finish()


def test_runner_mode_only_raises(tmp_path):
    cfg = FaultConfig(("filter_text",), 0.999999, seed=0, retry_locally=False)
    with pytest.raises(Exception, match="attempt 1"):
        _run(tmp_path, cfg, "raising")


def test_unknown_stage_composite_is_an_error():
    p = beam.Pipeline("DirectRunner")
    _ = p | beam.Create([1]) | "Other" >> beam.Map(str)
    with pytest.raises(ValueError, match="no DoFn"):
        faults.inject(p, FaultConfig(("download",), 0.5))
