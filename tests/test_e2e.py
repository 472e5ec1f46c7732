"""End to end, the way users run it: `wit demo` and `beam_runner.py` in subprocesses."""

from __future__ import annotations

import glob
import io
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import webdataset as wds
from PIL import Image

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
WIT = os.path.join(os.path.dirname(sys.executable), "wit")


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    outs = [str(tmp_path_factory.mktemp(f"demo{i}")) for i in range(2)]
    procs = [_run([WIT, "demo", "--out", out]) for out in outs]
    return outs, procs


def _read_shard(path):
    return list(wds.WebDataset(path, shardshuffle=False))


def test_demo_builds_readable_shards(demo_runs):
    (out, _), (proc, _) = demo_runs
    assert "kept samples" in proc.stdout and "adds up" in proc.stdout
    sizes = json.load(open(f"{out}/shards/sizes.json"))
    assert len(sizes) >= 2 and sum(sizes.values()) >= 500
    for name, count in sizes.items():
        samples = _read_shard(f"{out}/shards/{name}")
        assert len(samples) == count
        table = pq.read_table(f"{out}/shards/{name.replace('.tar', '.parquet')}")
        assert table.column("key").to_pylist() == [s["__key__"] for s in samples]
        for s in samples:
            img = Image.open(io.BytesIO(s["jpg"]))
            img.load()
            meta = json.loads(s["json"])
            assert s["txt"].decode().strip() and meta["caption"] == s["txt"].decode()
            assert min(img.size) <= 256 and meta["width"] == img.size[0]
            assert (
                meta["queries"] and meta["url"] and meta["page_url"] and len(meta["sha256"]) == 64
            )


def test_demo_accounting_adds_up(demo_runs):
    out = demo_runs[0][0]
    summary = json.load(open(f"{out}/summary.json"))
    manifest = json.load(open(f"{out}/manifest.json"))
    rejects = pq.read_table(glob.glob(f"{out}/rejects/*.parquet")).to_pylist()
    assert summary["balanced"] and summary["input"] == summary["kept"] + len(rejects)
    assert summary["kept"] == sum(s["count"] for s in manifest["shards"])
    reasons = {r["reason"] for r in rejects}
    planted = {
        "empty_caption",
        "boilerplate_caption",
        "http_404",
        "http_5xx",
        "decode_error",
        "not_an_image",
        "too_small",
        "duplicate_url",
        "duplicate_image",
        "opted_out",
        "blocked_address",
        "decompression_bomb",
        "malformed_record",
    }
    assert planted <= reasons, planted - reasons
    assert all(r["stage"] and r["reason"] for r in rejects)


def test_demo_keeps_planted_eval_copies(demo_runs):
    out = demo_runs[0][0]
    keys = {
        k
        for name in json.load(open(f"{out}/shards/sizes.json"))
        for k in pq.read_table(f"{out}/shards/{name[:-4]}.parquet").column("key").to_pylist()
    }
    truth = [json.loads(line) for line in open(f"{out}/sample-web/evalset/ground_truth.jsonl")]
    assert truth and all(t["key"] in keys for t in truth)


def test_demo_audits_overlap_with_the_eval_set(demo_runs):
    (out, _), (proc, _) = demo_runs
    truth = {
        json.loads(line)["key"] for line in open(f"{out}/sample-web/evalset/ground_truth.jsonl")
    }
    flagged = set(open(f"{out}/overlap/exclusion/keys.txt").read().split())
    assert flagged == truth  # every planted copy, nothing else
    assert f"planted copies found {len(truth)}/{len(truth)}" in proc.stdout
    assert os.path.exists(f"{out}/overlap/report.html")


def test_demo_rerun_is_byte_identical(demo_runs):
    (a, b), _ = demo_runs
    files = sorted(
        os.path.relpath(p, a) for p in glob.glob(f"{a}/shards/*") + glob.glob(f"{a}/rejects/*")
    )
    assert files == sorted(
        os.path.relpath(p, b) for p in glob.glob(f"{b}/shards/*") + glob.glob(f"{b}/rejects/*")
    )
    for rel in files:
        assert open(f"{a}/{rel}", "rb").read() == open(f"{b}/{rel}", "rb").read(), rel


def test_beam_runner_on_url_table(web_server, small_web, tmp_path):
    import pyarrow as pa

    from pipeline.read import read_wat

    rows = [
        {"url": r.url, "caption": r.caption}
        for p in sorted(glob.glob(f"{small_web}/crawl/*.wat.gz"))
        for r in read_wat(p)
        if not r.rejected
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "urls.parquet")
    (tmp_path / "words.txt").write_text("# words that drop a caption\nsunset\n")
    (tmp_path / "domains.txt").write_text("www.sample.test\n")
    out = tmp_path / "out"
    proc = _run(
        [
            sys.executable,
            "beam_runner.py",
            f"--input={tmp_path}/urls.parquet",
            "--input_format=parquet",
            f"--queries={small_web}/queries.txt",
            f"--output={out}",
            "--samples_per_shard=50",
            "--allowed_networks=127.0.0.0/8",
            f"--resolve={web_server.resolve_spec()}",
            "--max_per_query=1000",
            f"--caption_blocklist={tmp_path}/words.txt",
            f"--domain_blocklist={tmp_path}/domains.txt",
        ]
    )
    summary = json.load(open(out / "summary.json"))
    assert summary["input"] == len(rows) and summary["balanced"] and summary["kept"] > 100
    assert "adds up" in proc.stdout
    text_drops = summary["drops"]["filter_text"]
    assert text_drops["blocked_word"] > 0 and text_drops["blocked_domain"] > 0


def test_private_addresses_refused_without_opt_in(web_server, small_web, tmp_path):
    out = tmp_path / "out"
    _run(
        [
            sys.executable,
            "beam_runner.py",
            f"--input={small_web}/crawl/*.wat.gz",
            f"--queries={small_web}/queries.txt",
            f"--output={out}",
            f"--resolve={web_server.resolve_spec()}",
        ]
    )
    summary = json.load(open(out / "summary.json"))
    assert summary["kept"] == 0 and summary["balanced"]
    assert summary["drops"]["download"]["blocked_address"] > 100


def test_wit_help_lists_subcommands():
    proc = _run([WIT, "--help"])
    assert "demo" in proc.stdout


def test_train_on_demo_shards_without_excluded_keys(demo_runs, tmp_path):
    out = demo_runs[0][0]
    shards = sorted(glob.glob(f"{out}/shards/*.tar"))
    run = tmp_path / "run"
    proc = _run([WIT, "train", "--shards", *shards[:-1], "--eval-shards", shards[-1], "--config", "tiny",
                 "--out", str(run), "--exclude", f"{out}/overlap/exclusion/keys.txt", "--epochs", "1",
                 "--batch-size", "32", "--steps-per-epoch", "6", "--workers", "0", "--device", "cpu"])  # fmt: skip
    assert "zeroshot_top1" in proc.stdout  # the end-of-epoch evaluation on the held-out shard
    assert glob.glob(f"{run}/checkpoints/*.pt") and os.path.exists(f"{run}/tokenizer.json")


def test_demo_card_shows_safety_and_the_planted_listed_image(demo_runs):
    out = demo_runs[0][0]
    summary = json.load(open(os.path.join(out, "summary.json")))
    safety = summary["safety"]
    assert safety["hash_blocklist"] == 1 == summary["drops"]["safety"]["hash_blocklist"]
    assert safety["consent_refused"] == sum(safety["consent"].values()) > 0
    assert {"consent/robots_meta", "consent/robots_txt", "consent/tdmrep_json",
            "consent/tdm_reservation"} <= set(safety["consent"])  # fmt: skip
    assert safety["kept_scored"] == summary["kept"]
    card = open(os.path.join(out, "report.html")).read()
    assert "Safety and consent" in card and "Unsafe-content scores" in card
    assert "listed-0" not in card and "planted listed image 0" not in card


def test_demo_prints_commands_that_run_in_a_fresh_shell(demo_runs, tmp_path):
    (out, _), (proc, _) = demo_runs
    commands = proc.stdout.split("\nnext:\n", 1)[1].strip().splitlines()
    assert len(commands) == 4
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": ROOT}  # no venv on PATH
    for line in commands:
        command = line.split("   # ", 1)[0].strip()
        assert os.path.isabs(command.split()[0]) and os.access(command.split()[0], os.X_OK)
        if " train " in command:  # a training run: checked by tests/train; here, only its path
            continue
        ran = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert ran.returncode == 0, (command, ran.stderr[-2000:])
