"""The local runner, pinned: Beam's FnApiRunner, never a Prism binary fetched from the internet.

Beam's `DirectRunner` first tries the Prism runner for pipelines it supports, which downloads
a Go binary from GitHub and runs the job there (on every run: a DNS lookup of github.com, and
with network access a different runner than the one the byte-identity tests were run on). When
the options name the DirectRunner (or no runner), `local_runner(options)` returns the
FnApiRunner that the DirectRunner falls back to, set up the same way, so
`--direct_num_workers` and `--direct_running_mode` keep working. Any other runner (Dataflow,
Flink, Spark, or `--runner PrismRunner` asked for explicitly) is left to Beam.

    p = beam.Pipeline(runner=local_runner(options), options=options)
"""

from __future__ import annotations

from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

__all__ = ["local_runner", "LOCAL_NAMES"]

LOCAL_NAMES = frozenset({"DirectRunner", "direct", "SwitchingDirectRunner"})


def local_runner(options: PipelineOptions) -> Any:
    """A FnApiRunner if `options` ask for the local DirectRunner (or none), else None."""
    name = options.view_as(StandardOptions).runner
    if name is not None and name not in LOCAL_NAMES:
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    provision = fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    )
    return fn_runner.FnApiRunner(provision_info=provision)
