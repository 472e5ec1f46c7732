"""`bench/dedup_gpu.py --device cpu --small`: the GPU check's dry run completes and reports."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_gpu_check_dry_run(tmp_path) -> None:
    out = tmp_path / "gpu.json"
    cmd = [sys.executable, "bench/dedup_gpu.py", "--device", "cpu", "--small", "--repeats", "1"]
    proc = subprocess.run(
        [*cmd, "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for line in ("measured matmul", "torch range search:", "faiss-gpu:", "torch descriptor:"):
        assert line in proc.stdout
    r = json.loads(out.read_text())
    assert r["torch_qps"] > 0 and r["embed_device_ips"] > 0 and r["tflops"] > 0
