"""Multi-process and fault-injected builds are byte-identical to a clean single-process build.

Runs `beam_runner.py` on the small sample web (`--direct_running_mode multi_processing`, worker
subprocesses reaching the 127.0.0.1 server of the test process) and `wit demo` with the same
Beam options passed through.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from pipeline.demo import demo_args
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
MULTI = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
FAULTS = [
    "--fail_stages=read,filter_text,dedup_url,balance,download,dedup_image,write_shards,write_rejects,finalize",
    "--fail_fraction=0.5",
    "--fault_seed=3",
]


def _run(args: list[str]) -> str:
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _build(web: str, server, out: str, *extra: str) -> str:
    args = demo_args(web, out, server.resolve_spec()) + ["--samples_per_shard=40"]
    return _run([sys.executable, "beam_runner.py", *args, "--progress_interval=0", *extra])


def _outputs(out: str) -> dict[str, bytes]:
    paths = glob.glob(f"{out}/shards/*") + glob.glob(f"{out}/rejects/*") + [f"{out}/summary.json"]
    files = {os.path.relpath(p, out): open(p, "rb").read() for p in paths}
    manifest = json.load(open(f"{out}/manifest.json"))
    files["manifest:shards"] = json.dumps(manifest["shards"]).encode()
    return files


def _failed_attempts(stdout: str) -> int:
    line = next((ln for ln in stdout.splitlines() if ln.strip().startswith("faults ")), "")
    return sum(int(tok) for tok in line.replace(",", " ").split() if tok.isdigit())


@pytest.fixture(scope="module")
def clean(small_web, web_server, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("clean"))
    _build(small_web, web_server, out)
    return _outputs(out)


def test_multi_process_build_is_byte_identical(small_web, web_server, clean, tmp_path):
    stdout = _build(small_web, web_server, str(tmp_path), *MULTI)
    assert "Beam counters" in stdout and "download" in stdout
    got = _outputs(str(tmp_path))
    assert sorted(got) == sorted(clean) and len([n for n in got if n.endswith(".tar")]) >= 2
    assert {n for n in got if got[n] != clean[n]} == set()


def test_faults_in_every_stage_leave_outputs_identical(small_web, web_server, clean, tmp_path):
    stdout = _build(small_web, web_server, str(tmp_path), *FAULTS)
    assert _failed_attempts(stdout) >= 3, stdout[-2000:]
    got = _outputs(str(tmp_path))
    assert sorted(got) == sorted(clean)
    assert {n for n in got if got[n] != clean[n]} == set()


def test_demo_passes_beam_options_multi_process_with_faults(tmp_path):
    wit = os.path.join(os.path.dirname(sys.executable), "wit")
    faults = ["--fail_stages=download,write_shards", "--fail_fraction=0.5", "--fault_seed=1"]
    stdout = _run([wit, "demo", "--out", str(tmp_path), *MULTI, *faults])
    summary = json.load(open(tmp_path / "summary.json"))
    assert summary["balanced"] and summary["kept"] >= 500 and "adds up" in stdout
    assert "Beam counters" in stdout and _failed_attempts(stdout) >= 1, stdout[-2000:]
