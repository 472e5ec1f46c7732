"""Safety and consent end to end: `beam_runner.py` on the sample web, one run per policy set.

The sample web plants one site per consent signal and two listed images
(`pipeline.sampleconsent`); `truth.json` says which URL is which.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.conftest import ROOT, SHARED_DATA

pytestmark = pytest.mark.slow
FAST = ["--unsafe_policy=off", "--detect_faces=false", "--blur_faces=false"]


def _build(server, web: str, out, *extra: str, source: str = "") -> dict:
    source = source or f"--input={web}/crawl/*.warc.wat.gz"
    args = [sys.executable, "beam_runner.py", source, f"--queries={web}/queries.txt",
            f"--output={out}", "--allowed_networks=127.0.0.0/8", "--max_per_query=1000",
            f"--resolve={server.resolve_spec()}", "--per_host_rate=500", *extra]  # fmt: skip
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert summary["balanced"]
    return summary


def _truth(web: str) -> dict[str, list[str]]:
    return json.load(open(os.path.join(web, "truth.json")))


def _body(web: str, url: str) -> bytes:
    return open(os.path.join(web, "web", url.split("://", 1)[1]), "rb").read()


def _parquet_rows(out) -> list[dict]:
    return [row for p in glob.glob(f"{out}/**/*.parquet", recursive=True)
            for row in pq.read_table(p).to_pylist()]  # fmt: skip


def _samples(out) -> dict[str, dict[str, bytes]]:
    found: dict[str, dict[str, bytes]] = {}
    for path in glob.glob(f"{out}/shards/*.tar"):
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                key, _, ext = m.name.partition(".")
                found.setdefault(key, {})[ext] = tar.extractfile(m).read()
    return found


def _kept_urls(out) -> set[str]:
    return {json.loads(s["json"])["url"] for s in _samples(out).values()}


@pytest.fixture(scope="module")
def listed_run(web_server, small_web, tmp_path_factory):
    """Default policies, the sample web's PDQ list and a test-made MD5+SHA-1 list."""
    out = tmp_path_factory.mktemp("listed")
    listed = [_truth(small_web)[f"hash_listed_{i}"][0] for i in range(2)]
    body = _body(small_web, listed[1])
    lst = out / "ours.txt"
    lst.write_text(f"md5:{hashlib.md5(body).hexdigest()}\n{hashlib.sha1(body).hexdigest()}\n")
    summary = _build(web_server, small_web, out / "out", f"--hash_blocklist={small_web}/blocklist.txt", f"--hash_blocklist={lst}")  # fmt: skip
    return out / "out", summary, listed


def test_listed_images_leave_no_bytes_thumbnail_caption_or_url(listed_run, small_web):
    import numpy as np

    from pipeline.hashlist import _pdq_bits

    out, summary, listed = listed_run
    assert summary["drops"]["safety"]["hash_blocklist"] == 2 == summary["safety"]["hash_blocklist"]
    rows = [r for r in _parquet_rows(out) if r.get("reason") == "hash_blocklist"]
    assert sorted(r["detail"].split()[0] for r in rows) == ["list=blocklist.txt", "list=ours.txt"]
    assert all(r["url"] == r["caption"] == r["page_url"] == "" for r in rows)
    bodies = [_body(small_web, u) for u in listed]
    secrets = [u.split("://", 1)[1].encode() for u in listed] + [b"planted listed image"]
    for path in glob.glob(f"{out}/**/*", recursive=True):  # tars, json, html: plain bytes
        if os.path.isfile(path) and not path.endswith(".parquet"):
            data = open(path, "rb").read()
            assert not any(s in data for s in secrets + bodies), path
    assert not any(s.decode() in str(_parquet_rows(out)) for s in secrets)  # zstd parquet
    listed_bits = [_pdq_bits(Image.open(io.BytesIO(b)).convert("RGB")) for b in bodies]
    for sample in _samples(out).values():  # no resized copy either
        bits = _pdq_bits(Image.open(io.BytesIO(sample["jpg"])).convert("RGB"))
        assert all(np.unpackbits(bits ^ lb).sum() > 31 for lb in listed_bits)


def test_consent_refusals_per_signal_and_safety_columns(listed_run, small_web):
    out, summary, _ = listed_run
    truth, drops = _truth(small_web), summary["drops"]
    assert drops["read"]["consent/robots_meta"] == len(truth["robots_meta"]) == 3
    for signal in ("tdmrep_json", "tdm_reservation", "robots_txt"):
        assert drops["download"][f"consent/{signal}"] == len(truth[signal]) == 3
    consent = summary["safety"]["consent"]
    assert sum(consent.values()) == summary["safety"]["consent_refused"]
    assert consent["consent/robots_meta"] == 3 and consent["opted_out"] == len(truth["opt_out"])
    refused = {u for s in ("robots_meta", "tdmrep_json", "tdm_reservation", "robots_txt") for u in truth[s]}  # fmt: skip
    kept = _kept_urls(out)
    assert not refused & kept and set(truth["consent_ok"]) <= kept
    metas = [json.loads(s["json"]) for s in _samples(out).values()]
    assert all(0.0 <= m["punsafe"] <= 1.0 and isinstance(m["faces"], list) for m in metas)
    assert summary["safety"]["kept_scored"] == summary["kept"] == len(metas)
    assert "Safety and consent" in open(out / "report.html").read()


def test_drop_policy_with_a_users_classifier_on_warc_input(web_server, small_web, tmp_path):
    from tests.pipeline.onnxmodel import mean_brightness_model

    model = mean_brightness_model(str(tmp_path / "bright.onnx"))
    summary = _build(web_server, small_web, tmp_path / "out", "--input_format=warc",
                     "--unsafe_policy=drop", "--unsafe_threshold=0.6", f"--unsafe_model={model}",
                     "--detect_faces=false", "--blur_faces=false",
                     source=f"--input={small_web}/crawl/*[0-9].warc.gz")  # fmt: skip
    assert summary["drops"]["read"]["consent/robots_meta"] == 3  # from the WARC's HTML
    dropped = [r for r in _parquet_rows(tmp_path / "out") if r.get("reason") == "unsafe"]
    assert dropped and summary["safety"]["unsafe_dropped"] == len(dropped)
    assert all(float(r["detail"].split("=")[1]) >= 0.6 for r in dropped)
    kept = [json.loads(s["json"]) for s in _samples(tmp_path / "out").values()]
    assert kept and all(m["punsafe"] < 0.6 and m["faces"] == [] for m in kept)


def test_live_pages_meta_and_tdm_header_with_scoring_off(web_server, small_web, tmp_path):
    summary = _build(web_server, small_web, tmp_path / "out", "--input_format=pages", *FAST,
                     source=f"--input={small_web}/pages.txt")  # fmt: skip
    read = summary["drops"]["read"]
    assert read["consent/robots_meta"] == 3 and read["consent/tdm_reservation"] == 1
    kept = [json.loads(s["json"]) for s in _samples(tmp_path / "out").values()]
    assert kept and all(m["punsafe"] is None and not m["faces_blurred"] for m in kept)
    assert summary["safety"]["kept_scored"] == 0


def test_consent_off_keeps_what_the_signals_refuse(web_server, small_web, tmp_path):
    summary = _build(web_server, small_web, tmp_path / "out", "--respect_robots=false",
                     "--respect_tdmrep=false", *FAST)  # fmt: skip
    assert set(summary["safety"]["consent"]) <= {"opted_out"}  # X-Robots-Tag stays honoured
    truth = _truth(small_web)
    refused = {u for s in ("robots_meta", "tdmrep_json", "tdm_reservation", "robots_txt") for u in truth[s]}  # fmt: skip
    assert refused <= _kept_urls(tmp_path / "out")


def _face_photo() -> str:
    path = os.path.join(SHARED_DATA, "imagenet-samples", "n04591157_Windsor_tie.JPEG")
    if not os.path.exists(path):
        pytest.skip("shared data absent")
    return path


def test_faces_are_blurred_before_the_image_is_written(tmp_path):
    from pipeline.webserver import SampleWebServer

    photo = open(_face_photo(), "rb").read()
    web = tmp_path / "web"
    (web / "web" / "cdn.sample.test").mkdir(parents=True)
    (web / "web" / "cdn.sample.test" / "p.jpg").write_bytes(photo)
    (web / "routes.json").write_text("{}")
    (web / "queries.txt").write_text("tie\n")
    (web / "urls.jsonl").write_text('{"url": "http://cdn.sample.test/p.jpg", "caption": "a man in a tie"}\n')  # fmt: skip
    stored = {}
    with SampleWebServer(str(web)) as server:
        for blur in ("true", "false"):
            out = tmp_path / f"out-{blur}"
            _build(server, str(web), out, "--input_format=jsonl", f"--blur_faces={blur}",
                   source=f"--input={web}/urls.jsonl")  # fmt: skip
            (sample,) = _samples(out).values()
            stored[blur] = (json.loads(sample["json"]), sample["jpg"])
    meta, jpg = stored["true"]
    assert meta["faces"] and meta["faces_blurred"] and not stored["false"][0]["faces_blurred"]
    assert meta["sha256"] == hashlib.sha256(photo).hexdigest()
    x, y, w, h = meta["faces"][0]
    blurred, plain = (Image.open(io.BytesIO(j)).convert("L") for j in (jpg, stored["false"][1]))
    face = (x, y, x + w, y + h)
    assert _detail(blurred.crop(face)) < 0.6 * _detail(plain.crop(face))


def _detail(img: Image.Image) -> float:
    """Mean absolute difference between neighbouring pixels (blurring lowers it)."""
    from PIL import ImageChops

    shifted = img.transform(img.size, Image.Transform.AFFINE, (1, 0, 1, 0, 1, 0))
    diff = ImageChops.difference(img, shifted)
    return sum(i * n for i, n in enumerate(diff.histogram())) / (img.width * img.height)
