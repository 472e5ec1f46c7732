"""The local build runs on the pinned FnApiRunner and connects only to the addresses it was given.

The socket guard (`tests/netguard/sitecustomize.py`, on PYTHONPATH) is loaded by the launching
process and by every worker process it starts; it refuses and logs any other connection or
name lookup. Beam's DirectRunner used to look up github.com on every run to fetch Prism.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.localrunner import local_runner
from tests.conftest import ROOT

GUARD = os.path.join(ROOT, "tests", "netguard")


def test_local_runner_is_pinned_and_others_left_to_beam():
    from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner

    assert isinstance(local_runner(PipelineOptions([])), FnApiRunner)
    assert isinstance(local_runner(PipelineOptions(["--runner=DirectRunner"])), FnApiRunner)
    assert local_runner(PipelineOptions(["--runner=DataflowRunner"])) is None


@pytest.mark.slow
def test_local_build_connects_only_to_given_addresses(tmp_path, web_server, small_web):
    (tmp_path / "q.txt").write_text("red circle\n")
    port = web_server.port
    rows = [f"http://127.0.0.1:{port}/images/none-{i}.jpg,a red circle {i}" for i in range(3)]
    rows.append(f"http://127.0.0.2:{port}/images/x.jpg,a red circle elsewhere")  # not given
    (tmp_path / "u.csv").write_text("url,caption\n" + "\n".join(rows) + "\n")
    log = tmp_path / "guard.log"
    env = {**os.environ, "PYTHONPATH": f"{GUARD}:{ROOT}", "WIT_SOCKET_GUARD": "127.0.0.1",
           "WIT_SOCKET_GUARD_LOG": str(log)}  # fmt: skip
    args = [sys.executable, "beam_runner.py", f"--input={tmp_path}/u.csv", "--input_format=csv",
            f"--queries={tmp_path}/q.txt", f"--output={tmp_path}/out", "--allowed_networks=127.0.0.0/8",
            "--direct_num_workers=2", "--direct_running_mode=multi_processing"]  # fmt: skip
    with subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) as proc:
        _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    lines = log.read_text().splitlines()
    # The one refused connection is the address the build was not given, tried by a worker
    # (the guard is live there); nothing else: no DNS lookup, no download.
    assert lines and all("connect ('127.0.0.2'" in line for line in lines), lines
    assert all(int(line.split()[0]) != proc.pid for line in lines)
