"""End to end on the bundled sample web's eval set: `wit dedup`, then the zero-shot analysis.

Shards are written directly from the sample web's files (the planted copies' bytes under
`web/cdn.sample.test/img/eNNNN.jpg`, keyed as in `ground_truth.jsonl`, plus ordinary images),
so no crawl is needed. A tiny model trained for a few steps on `train.synthetic` shards is
near chance on the eval set; the test checks the analysis' structure, not its accuracy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dedup.wds import write_tar
from pipeline.cli import main
from pipeline.sampleweb import SampleWebConfig, generate
from pipeline.schema import url_key
from train.config import DataConfig, TrainConfig
from train.loop import train
from train.synthetic import write_concept_shards

HOST = "cdn.sample.test"
OTHERS = 40  # ordinary sample-web images beside the planted copies


def _sample(url: str, data: bytes, caption: str) -> tuple[str, dict[str, bytes]]:
    key = url_key(url)
    meta = {"key": key, "url": url, "caption": caption}
    return key, {"jpg": data, "txt": caption.encode(), "json": json.dumps(meta).encode()}


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sample web (8 eval images, 4 planted copies) and two shards built from its files."""
    root = tmp_path_factory.mktemp("sampleweb")
    generate(str(root), SampleWebConfig(seed=1, pages=20, eval_images=8, planted_copies=4))
    truth = [json.loads(line) for line in (root / "evalset" / "ground_truth.jsonl").open()]
    img = root / "web" / HOST / "img"
    samples = []
    for t in truth:
        assert t["key"] == url_key(t["url"])
        data = (img / Path(t["url"]).name).read_bytes()
        samples.append(_sample(t["url"], data, f"planted <b>{t['transform']}</b>"))
    others = sorted(p for p in img.iterdir() if re.fullmatch(r"\d{5}\.jpg", p.name))[:OTHERS]
    for p in others:
        samples.append(_sample(f"http://{HOST}/img/{p.name}", p.read_bytes(), "a shape"))
    shards = root / "shards"
    shards.mkdir()
    samples.sort()
    write_tar(str(shards / "00000.tar"), samples[::2])
    write_tar(str(shards / "00001.tar"), samples[1::2])
    return {"root": root, "truth": truth, "shards": shards, "n_train": len(samples)}


@pytest.fixture(scope="module")
def overlap(web: dict) -> Path:
    out = web["root"] / "overlap"
    evalset = f"web={web['root'] / 'evalset'}"
    assert (
        main(["dedup", "--shards", str(web["shards"]), "--eval", evalset, "--out", str(out)]) == 0
    )
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny CLIP trained for 4 steps on procedural colour x shape shards."""
    shard_dir = str(tmp_path_factory.mktemp("concepts"))
    urls = write_concept_shards(shard_dir, shards=2, per_shard=32, seed=3, size=32)
    out = str(tmp_path_factory.mktemp("tinyrun"))
    data = DataConfig(shards=tuple(urls), batch_size=16, workers=0, shuffle_buffer=16, seed=1)
    cfg = TrainConfig(out=out, model="tiny", epochs=1, warmup_steps=1, log_every=100, data=data)
    assert train(cfg)["step"] == 4
    return f"{out}/checkpoints/latest.pt"


def test_every_planted_copy_found_and_nothing_else(web: dict, overlap: Path) -> None:
    rows = pq.read_table(overlap / "overlap.parquet").to_pylist()
    flagged = {(r["key"], r["eval_id"]) for r in rows if r["duplicate"]}
    assert flagged == {(t["key"], t["eval_id"]) for t in web["truth"]}
    (s,) = json.loads((overlap / "summary.json").read_text())
    assert (s["all"], s["overlap"], s["clean"], s["train_images"]) == (8, 4, 4, web["n_train"])
    keys = (overlap / "exclusion" / "keys.txt").read_text().split()
    assert keys == sorted(t["key"] for t in web["truth"])


def test_zero_shot_analysis_end_to_end(
    overlap: Path, checkpoint: str, capsys: pytest.CaptureFixture
) -> None:
    args = ["overlap", "analyze", str(overlap), "--checkpoint", checkpoint, "--confidence", "0.95"]
    assert main([*args, "--templates", "a photo of a {}.", "--templates", "a {} shape"]) == 0
    printed = capsys.readouterr().out
    assert "web: zero-shot all" in printed
    (r,) = json.loads((overlap / "analysis.json").read_text())
    assert (r["all_n"], r["overlap_n"], r["clean_n"]) == (8, 4, 4)
    assert r["all_correct"] == r["overlap_correct"] + r["clean_correct"]
    labels = (overlap.parent / "evalset" / "labels.tsv").read_text().split("\n")[1:]
    assert r["classes"] == len({line.split("\t")[2] for line in labels if line})
    assert r["templates"] == 2 and r["confidence"] == 0.95
    for split in ("all", "overlap", "clean"):
        assert r[f"{split}_ci_low"] <= r[f"{split}_acc"] <= r[f"{split}_ci_high"]
    for diff in ("overlap_minus_clean", "all_minus_clean"):
        assert r[f"{diff}_ci_low"] <= r[diff] <= r[f"{diff}_ci_high"]
    assert 0.0 <= r["p_value"] <= 1.0
    preds = pq.read_table(overlap / "zeroshot.parquet").to_pylist()
    assert len(preds) == 8 and sum(p["overlap"] for p in preds) == 4
    assert sum(p["correct"] for p in preds) == r["all_correct"]
    table = pq.read_table(overlap / "analysis.parquet").to_pylist()
    assert table[0]["all_acc"] == pytest.approx(r["all_acc"])
    report = (overlap / "report.html").read_text()
    assert "Zero-shot accuracy: All / Overlap / Clean" in report
    assert "planted &lt;b&gt;" in report and "planted <b>" not in report
    assert main(["overlap", "query", str(overlap), "SELECT all_n FROM analysis"]) == 0
    assert capsys.readouterr().out.split() == ["all_n", "8"]


def test_every_duplicate_is_verified_with_its_transform(web: dict, overlap: Path) -> None:
    rows = pq.read_table(overlap / "overlap.parquet").to_pylist()
    (s,) = json.loads((overlap / "summary.json").read_text())
    for r in rows:
        candidate = r["similarity"] >= r["threshold"]
        assert r["verdict"] == ("below_candidate" if not candidate else r["verdict"])
        assert r["duplicate"] == (r["verdict"] == "verified")
        if r["verdict"] == "verified":
            assert r["inliers"] >= r["min_inliers"] == s["min_inliers"] >= 12
            assert 0.2 < r["scale"] < 5 and abs(r["rotation"]) < 30 and r["coverage"] > 0.5
    by_key = {r["key"]: r for r in rows if r["duplicate"]}
    for t in web["truth"]:  # the planted flips are found as mirrored copies
        assert by_key[t["key"]]["mirrored"] == (t["transform"] == "flip")
    assert s["verified"] == 4 and s["candidates"] == 4 + s["rejected_by_verification"]
    report = (overlap / "report.html").read_text()
    assert "Rejected by verification" in report and "inliers (min" in report
