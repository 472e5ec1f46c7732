"""Kill a build mid-run, resume it, and get the same files with the same bytes as a clean run."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time

from pipeline.build import run
from tests.conftest import ROOT


def _args(web: str, resolve: str, out: str) -> list[str]:
    return [
        f"--input={web}/crawl/*.wat.gz",
        f"--queries={web}/queries.txt",
        f"--output={out}",
        "--samples_per_shard=8",
        "--allowed_networks=127.0.0.0/8",
        f"--resolve={resolve}",
        "--max_per_query=1000",
    ]


def _snapshot(out: str) -> dict[str, bytes]:
    paths = glob.glob(f"{out}/**/*", recursive=True) + glob.glob(f"{out}/**/.*", recursive=True)
    return {os.path.relpath(p, out): open(p, "rb").read() for p in paths if os.path.isfile(p)}


def _kill_after_first_shard(args: list[str], out: str) -> None:
    cmd = [sys.executable, "beam_runner.py", *args]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if glob.glob(f"{out}/shards/*_stats.json"):
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait()


def test_killed_build_resumes_byte_identical(small_web, web_server, tmp_path):
    out = str(tmp_path / "out")
    args = _args(small_web, web_server.resolve_spec(), out)
    run(args)
    clean = _snapshot(out)
    assert (
        "manifest.json" in clean and "report.html" in clean and "shards/00000_stats.json" in clean
    )
    shutil.rmtree(f"{out}/shards")  # the clean run's manifest.json stays: the rerun must drop it

    _kill_after_first_shard(args, out)
    assert not os.path.exists(f"{out}/manifest.json"), "a killed build left a manifest"
    committed = {
        p.replace("_stats.json", ".tar"): os.stat(p.replace("_stats.json", ".tar")).st_mtime_ns
        for p in glob.glob(f"{out}/shards/*_stats.json")
    }
    assert 0 < len(committed) < len(clean) // 3

    summary = run([*args, "--resume"])
    assert summary["balanced"]
    assert _snapshot(out) == clean  # same set of files, same bytes (manifest and card included)
    for tar, mtime in committed.items():  # committed shards were verified, not written again
        assert os.stat(tar).st_mtime_ns == mtime, tar
