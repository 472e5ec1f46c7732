"""`torchrun --nproc_per_node 2 -m train` on CPU (gloo): trains, splits data, resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from train.checkpoint import load_checkpoint


def _torchrun(args: list[str], cwd: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "train",
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": cwd}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_two_process_gloo_run_and_resume(tmp_path, shard_urls) -> None:
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = str(tmp_path / "run")
    common = [
        "--shards",
        *shard_urls,
        "--eval-shards",
        shard_urls[3],
        "--out",
        out,
        "--batch-size",
        "8",
        "--workers",
        "1",
        "--epochs",
        "2",
        "--warmup",
        "2",
        "--log-every",
        "3",
        "--shuffle-buffer",
        "16",
    ]
    first = _torchrun([*common, "--stop-after-steps", "4"], repo)
    assert first.returncode == 0, first.stderr[-3000:]
    state = load_checkpoint(f"{out}/checkpoints/latest.pt")
    assert state["step"] == 4 and len(state["positions"]) == 2
    second = _torchrun([*common, "--resume", "latest"], repo)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "samples/s" in second.stdout and "eval epoch 1" in second.stdout
    summary = json.load(open(f"{out}/summary.json"))
    assert summary["world_size"] == 2 and summary["finished"]
    assert summary["step"] == 2 * 12  # 192 samples / (2 ranks x 8)
    assert summary["data"]["samples"] == 2 * 192  # each sample once per epoch across both ranks
    assert summary["history"][-1]["loss"] < 2.77  # ln(16): chance over the global batch
