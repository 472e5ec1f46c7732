"""The mistakes users make, through the real entry points: each fails loud, in one line.

Every row runs a real command in a subprocess (`wit`, `beam_runner.py`, `python -m pipeline.s3`,
`python -m train`) and asserts: exit status 2, exactly one line on stderr naming the problem, no
traceback, and no output folder left behind. Each mistake is caught at launch, before any work,
so a row costs one interpreter start-up.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, SHARED_DATA

BIN = os.path.dirname(sys.executable)
ENTRY = {
    "wit": [os.path.join(BIN, "wit")],
    "runner": [sys.executable, os.path.join(ROOT, "beam_runner.py")],
    "s3": [sys.executable, "-m", "pipeline.s3"],
    "train": [sys.executable, "-m", "train"],
}
# A valid build except for what a row changes: {web} is the sample web, {t} the row's folder.
BUILD = ["--input={web}/crawl/*.warc.wat.gz", "--queries={web}/queries.txt", "--output={t}/out"]


def _build(*changed: str) -> list[str]:
    """BUILD with the given `--name=value` options replacing (or added to) its own."""
    names = {c.partition("=")[0] for c in changed}
    return [a for a in BUILD if a.partition("=")[0] not in names] + list(changed)


DEDUP = ["dedup", "--shards={t}/shards", "--eval=web={web}/evalset", "--out={t}/out"]
TRAIN = ["--shards={t}/shards/00000.tar", "--out={t}/out"]

# (id, entry point, arguments, what stderr must say, needs the S3 server)
CASES = [
    # the commands of the issue
    ("dedup-missing-shards", "wit", ["dedup", "--shards=/no/such/shards", "--eval=web={web}/evalset", "--out={t}/out"], "--shards /no/such/shards: no file matches", False),
    ("demo-output-for-out", "wit", ["demo", "--output", "{t}/out"], "--output is set by wit demo itself", False),
    ("demo-unknown-flag", "wit", ["demo", "--ot", "{t}/out"], "unknown option --ot (did you mean --out?)", False),
    ("train-prefix-flag", "wit", ["train", "--shard", "{t}/shards/00000.tar", "--out", "{t}/out"], "unknown option --shard (did you mean --shards?)", False),
    ("train-s3-typo", "wit", ["train", "--shards=s3://wit-mistakes/typo/{00000..00002}.tar", "--out={t}/out"], "shard s3://wit-mistakes/typo/00000.tar does not exist", True),
    ("train-empty-glob", "wit", ["train", "--shards=/no/such/*.tar", "--out={t}/out"], "--shards /no/such/*.tar: no shard matches", False),
    ("runner-empty-glob", "runner", _build("--input=/no/such/*.wat.gz"), "--input /no/such/*.wat.gz: no file matches", False),
    ("runner-missing-queries", "runner", _build("--queries={t}/nosuch.txt"), "--queries {t}/nosuch.txt: no such file", False),
    ("runner-typo-flag", "runner", _build("--inptu={web}/crawl/*.wat.gz"), "unknown option --inptu (did you mean --input?)", False),
    ("runner-warc-read-as-wat", "runner", _build("--input={web}/crawl/*.warc.gz"), "looks like a WARC file (use --input_format warc)", False),
    ("runner-wat-read-as-warc", "runner", _build("--input_format=warc"), "looks like a WAT file (use --input_format wat)", False),
    ("overlap-query-bad-sql", "wit", ["overlap", "query", "{t}/run", "select * from nosuch"], "the views are summary(eval_set, overlap_pct)", False),
    ("demo-missing-bucket", "wit", ["demo", "--out", "s3://missing-bucket/x"], "bucket 'missing-bucket' does not exist", True),
    # values out of range, checked where parsed
    ("per-host-connections-0", "runner", _build("--per_host_connections=0"), "--per_host_connections: must be an integer >= 1, got '0'", False),
    ("samples-per-shard-0", "runner", _build("--samples_per_shard=0"), "--samples_per_shard: must be an integer >= 1", False),
    ("reject-file-mb-0", "runner", _build("--reject_file_mb=0"), "--reject_file_mb: must be a number > 0", False),
    ("download-threads-0", "runner", _build("--download_threads=0"), "--download_threads: must be an integer >= 1", False),
    ("retries-negative", "runner", _build("--retries=-1"), "--retries: must be an integer >= 0", False),
    ("timeout-0", "runner", _build("--timeout=0"), "--timeout: must be a number > 0", False),
    ("allowed-networks-not-cidr", "runner", _build("--allowed_networks=notacidr"), "'notacidr' is not a network in CIDR form", False),
    ("max-per-query-0", "runner", _build("--max_per_query=0"), "--max_per_query: must be an integer >= 1", False),
    ("resolve-malformed", "runner", _build("--resolve=garbage"), "--resolve entry must be HOST=IP:PORT, got 'garbage'", False),
    ("output-missing", "runner", BUILD[:2], "missing required options: --output", False),
    ("samples-per-shard-negative", "runner", _build("--samples_per_shard=-2"), "--samples_per_shard: must be an integer >= 1, got '-2'", False),
    ("total-timeout-negative", "runner", _build("--total_timeout=-1"), "--total_timeout: must be a number > 0", False),
    ("max-image-bytes-negative", "runner", _build("--max_image_bytes=-1"), "--max_image_bytes: must be an integer >= 1", False),
    ("image-size-0", "runner", _build("--image_size=0"), "--image_size: must be an integer >= 16", False),
    ("reject-file-mb-negative", "runner", _build("--reject_file_mb=-3"), "--reject_file_mb: must be a number > 0, got '-3'", False),
    ("encode-quality-101", "runner", _build("--encode_quality=101"), "--encode_quality: must be an integer >= 1 and <= 100", False),
    ("dash-spelling-is-an-alias", "runner", _build("--samples-per-shard=0"), "--samples_per_shard: must be an integer >= 1", False),
    ("real-cc-warc-read-as-wat", "runner", _build("--input={cc}/whirlwind.warc.gz"), "looks like a WARC file (use --input_format warc)", False),
    ("real-cc-wet-read-as-wat", "runner", _build("--input={cc}/whirlwind.warc.wet.gz"), "looks like a WET file", False),
    ("queries-count-unknown-beam-flag", "wit", ["queries", "count", "--wikipedia-dump={t}/empty.txt", "--out={t}/out", "--runnr=DirectRunner"], "unknown option --runnr (did you mean --runner?)", False),
    ("fail-stages-unknown-stage", "runner", _build("--fail_stages=downlod"), "unknown --fail_stages ['downlod']", False),
    ("fail-fraction-above-1", "runner", _build("--fail_fraction=2"), "--fail_fraction must be in [0, 1)", False),
    ("runner-name-misspelt", "runner", _build("--runner=DataflwRunner"), "--runner DataflwRunner: Unexpected pipeline runner", False),
    ("not-a-number", "runner", _build("--max_per_query=lots"), "--max_per_query: must be an integer >= 1, got 'lots'", False),
    ("bool-not-a-bool", "runner", _build("--dedup_images=maybe"), "--dedup_images: must be true or false, got 'maybe'", False),
    ("stray-argument", "runner", _build("stray"), "unexpected argument 'stray'", False),
    ("demo-beam-option-out-of-range", "wit", ["demo", "--out={t}/out", "--samples_per_shard=0"], "--samples_per_shard: must be an integer >= 1", False),
    ("demo-seed-negative", "wit", ["demo", "--out={t}/out", "--seed=-1"], "--seed: must be an integer >= 0", False),
    # wrong files and paths
    ("queries-empty-file", "runner", _build("--queries={t}/empty.txt"), "--queries {t}/empty.txt: holds no query", False),
    ("queries-binary-file", "runner", _build("--queries={t}/binary.bin"), "not UTF-8 text (one query per line) nor parquet", False),
    ("queries-is-a-folder", "runner", _build("--queries={t}"), "is a folder, a file is expected", False),
    ("input-file-empty", "runner", _build("--input={t}/empty.txt", "--input_format=csv"), "--input {t}/empty.txt: is empty", False),
    ("input-is-a-folder", "runner", _build("--input={t}/shards"), "--input {t}/shards: cannot be read", False),
    ("output-under-a-file", "runner", _build("--output={t}/empty.txt/out"), "{t}/empty.txt is a file, not a folder", False),
    ("output-is-a-file", "runner", _build("--output={t}/empty.txt"), "exists and is not a folder", False),
    ("blocklist-missing", "runner", _build("--caption_blocklist={t}/nosuch.txt"), "--caption_blocklist {t}/nosuch.txt: no such file", False),
    ("output-bucket-missing", "runner", _build("--output=s3://missing-bucket/x"), "bucket 'missing-bucket' does not exist", True),
    ("no-credentials", "runner", _build("--output=s3://wit-mistakes/x"), "no AWS credentials found", "nocreds"),
    ("s3-endpoint-unreachable", "wit", ["demo", "--out", "s3://wit-mistakes/x"], "not reachable", "unreachable"),
    ("eval-set-without-images", "wit", [*DEDUP[:2], "--eval=web={t}/noimages", "--out={t}/out"], "--eval web={t}/noimages: no images found", False),
    ("eval-set-missing", "wit", [*DEDUP[:2], "--eval=web={t}/nosuch", "--out={t}/out"], "no such folder or file", False),
    ("dedup-threshold-malformed", "wit", [*DEDUP, "--threshold=web"], "--threshold: must be NAME=T with T in [-1, 1], got 'web'", False),
    ("dedup-threshold-unknown-set", "wit", [*DEDUP, "--threshold=cifar=0.9"], "--threshold cifar=0.9: no eval set of that name", False),
    ("dedup-min-inliers-malformed", "wit", [*DEDUP, "--min-inliers=web=many"], "--min-inliers: must be NAME=N with N an integer >= 4, got 'web=many'", False),
    ("dedup-k-0", "wit", [*DEDUP, "--k=0"], "--k: must be an integer >= 1", False),
    ("dedup-out-under-a-file", "wit", [*DEDUP[:3], "--out={t}/empty.txt/o"], "{t}/empty.txt is a file, not a folder", False),
    ("analyze-not-a-checkpoint", "wit", ["overlap", "analyze", "{t}/run", "--checkpoint={t}/empty.txt"], "{t}/empty.txt: not a `wit train` checkpoint", False),
    ("overlap-query-not-a-run", "wit", ["overlap", "query", "{t}/shards", "select 1"], "not the output of `wit dedup`", False),
    ("filter-exclude-missing", "wit", ["filter", "--shards={t}/shards", "--exclude={t}/nosuch.txt", "--out={t}/out"], "--exclude {t}/nosuch.txt: no such file", False),
    ("report-not-a-build", "wit", ["report", "{t}/shards"], "{t}/shards/summary.json: no such file", False),
    ("queries-compile-missing", "wit", ["queries", "compile", "{t}/nosuch.txt", "--out={t}/out"], "QUERIES {t}/nosuch.txt: no such file", False),
    ("wit-unknown-command", "wit", ["nosuch"], "invalid choice: 'nosuch'", False),
    ("train-resume-not-a-checkpoint", "wit", ["train", *TRAIN, "--resume={t}/binary.bin"], "{t}/binary.bin: not a `wit train` checkpoint", False),
    ("train-batch-size-0", "wit", ["train", *TRAIN, "--batch-size=0"], "--batch-size: must be an integer >= 1", False),
    ("train-unknown-config", "wit", ["train", *TRAIN, "--config=ViT-Q-99"], "--config ViT-Q-99: unknown model config", False),
    ("train-exclude-missing", "wit", ["train", *TRAIN, "--exclude={t}/nosuch.txt"], "--exclude {t}/nosuch.txt: no such file", False),
    ("train-zero-samples", "wit", ["train", *TRAIN, "--workers=0"], "no captions in the 1 shards given", False),
    ("torchrun-entry-empty-glob", "train", ["--shards=/no/such/*.tar", "--out={t}/out"], "no shard matches", False),
    ("s3-cat-no-url", "s3", [], "give one or more s3://BUCKET/KEY URLs", False),
    ("s3-cat-local-path", "s3", ["{t}/empty.txt"], "not an s3://BUCKET/KEY URL", False),
    ("s3-cat-missing-bucket", "s3", ["s3://missing-bucket/k.tar"], "bucket 'missing-bucket' does not exist", True),
    ("s3-cat-missing-key", "s3", ["s3://wit-mistakes/nosuch.tar"], "s3://wit-mistakes/nosuch.tar: no such object", True),
]  # fmt: skip


@pytest.fixture
def workdir(tmp_path, small_web):
    """A row's folder: an empty tar shard, an empty and a binary file, a dedup run's parquet."""
    (tmp_path / "shards").mkdir()
    with tarfile.open(tmp_path / "shards" / "00000.tar", "w"):
        pass
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "noimages").mkdir()
    (tmp_path / "noimages" / "notes.txt").write_text("no image here\n")
    (tmp_path / "run").mkdir()
    summary = pa.table({"eval_set": ["web"], "overlap_pct": [0.0]})
    pq.write_table(summary, tmp_path / "run" / "summary.parquet")
    return str(tmp_path)


def _env(s3: object, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PYTHONPATH=ROOT, AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull)
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    if s3 in (True, "unreachable"):
        env.update(AWS_ACCESS_KEY_ID="testing-key-id", AWS_SECRET_ACCESS_KEY="testing-secret")
        env.update(AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint)
    if s3 == "unreachable":
        env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # discard port: nothing listens
    return env


@pytest.mark.parametrize("name,entry,args,says,s3", CASES, ids=[c[0] for c in CASES])
def test_mistake_fails_loud(request, workdir, small_web, name, entry, args, says, s3):
    endpoint = request.getfixturevalue("s3_bucket") if s3 is True else ""

    cc = os.path.join(SHARED_DATA, "commoncrawl")
    if any("{cc}" in a for a in args) and not os.path.isdir(cc):
        pytest.skip("no shared Common Crawl sample")

    def fill(text: str) -> str:
        return text.replace("{t}", workdir).replace("{web}", small_web).replace("{cc}", cc)

    argv = ENTRY[entry] + [fill(a) for a in args]
    before = set(glob.glob(os.path.join(workdir, "**"), recursive=True))
    proc = subprocess.run(
        argv, cwd=workdir, env=_env(s3, endpoint), capture_output=True, text=True, timeout=120
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(lines) == 1, proc.stderr
    assert fill(says) in lines[0], lines[0]
    print(lines[0].replace(workdir, "T").replace(small_web, "WEB"))  # the message, for `-rP`
    after = set(glob.glob(os.path.join(workdir, "**"), recursive=True))
    assert after == before, f"left behind: {sorted(after - before)}"


@pytest.fixture
def s3_bucket(s3_env):
    """The moto server with one (empty) bucket, `wit-mistakes`."""
    import boto3

    boto3.client("s3").create_bucket(Bucket="wit-mistakes")
    return s3_env
