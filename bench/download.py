"""Download + resize + write: our Beam stages vs img2dataset, side by side on the same machine.

    python bench/download.py --img2dataset /path/to/venv/bin/img2dataset [--runs 3]

img2dataset cannot share our virtualenv (it wants pyarrow >= 26, Beam 2.77 caps it below), so
give it its own: `python -m venv /tmp/i2d && /tmp/i2d/bin/pip install img2dataset`.
`--backend-python P` adds our build with `--downloader img2dataset`, run by the Python P of a
venv holding our package and img2dataset (`pip install '.[img2dataset]'`; it downgrades
webdataset to 0.2.x and opencv-python-headless to 4.x there), in one process.

The 1,000 real photos of ../shared/data/imagenet-samples are served by one local HTTP/1.1
server (keep-alive, like real servers), each under two URLs (2,000 URLs); `--tls` serves HTTPS
with a self-signed certificate that both tools trust (`SSL_CERT_FILE`), `--latency S` adds a
server think time (x0.5-1.5, 2% stragglers at x20) and `--rtt S` a network round trip: one per
request, plus one per new connection for TCP's handshake and one more for TLS 1.3's. img2dataset runs with 2 processes (1,000 samples per shard, so both get a
shard); ours on the DirectRunner in one process and with 2 worker processes
(`multi_processing`), also 1,000 samples per shard. Both tools resize to 256 (keep_ratio, only
if bigger, JPEG q95) and write WebDataset shards; ours runs the whole build (`beam_runner.py`:
read, filter, match, language, balance, download, shards, rejects, manifest, card) on the
DirectRunner, with what img2dataset does not do turned off so that both keep the same images:
exact-duplicate removal, the minimum-size and aspect-ratio filters, and the per-host rate limit
(the server is ours). Runs alternate between the tools; the table gives medians: wall time,
images/s (successes / wall), successes, and the peak resident memory of the whole process tree.
"""

from __future__ import annotations

import argparse
import functools
import glob
import hashlib
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

THREADS = 16
WORKERS = 2  # set from --workers
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("WIT_SHARED_DATA") or os.path.join(ROOT, "..", "shared", "data")
PHOTOS = os.path.join(SHARED, "imagenet-samples")
sys.path.insert(0, ROOT)

from pipeline.webserver import LocalHTTPServer  # noqa: E402


class _Quiet(SimpleHTTPRequestHandler):
    latency = 0.0  # seconds of server think time; set by --latency to imitate the real web
    rtt = 0.0  # network round trip; set by --rtt
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers and CDNs offer it

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        """Wait like a remote server would: the base latency, x0.5-1.5, and 2% stragglers at x20."""
        if self.latency:
            draw = int(hashlib.sha256(self.path.encode()).hexdigest()[:8], 16) / 2**32
            time.sleep(self.latency * (20 if draw < 0.02 else 0.5 + draw))
        time.sleep(self.rtt)  # the request out and the response back
        super().do_GET()

    def translate_path(self, path: str) -> str:
        """Serve /a/NAME and /b/NAME from the same photo folder."""
        return super().translate_path("/" + path.split("/", 2)[-1])

    def setup(self) -> None:
        """A new connection: the TCP handshake's round trip, and TLS 1.3's one more (in the
        connection's own thread, as on a real server); requests on a kept-alive connection pay
        only their own round trip (`do_GET`)."""
        tls = isinstance(self.request, ssl.SSLSocket)
        time.sleep(self.rtt * (2 if tls else 1))
        if tls:
            self.request.do_handshake()
        super().setup()


class _TLSServer(LocalHTTPServer):
    context: ssl.SSLContext

    def get_request(self) -> tuple[socket.socket, object]:
        sock, addr = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


def _certificate(work: str) -> tuple[str, str]:
    """A self-signed ECDSA P-256 certificate for 127.0.0.1 (the cheapest common handshake)."""
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _serve(folder: str, tls: tuple[str, str] | None = None) -> tuple[ThreadingHTTPServer, int]:
    handler = functools.partial(_Quiet, directory=folder)
    if tls:
        httpd: LocalHTTPServer = _TLSServer(("127.0.0.1", 0), handler)
        httpd.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        httpd.context.load_cert_chain(*tls)
    else:
        httpd = LocalHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, httpd.server_address[1]


def _write_inputs(work: str, port: int, scheme: str = "http") -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = sorted(n for n in os.listdir(PHOTOS) if n.endswith(".JPEG"))
    rows = [
        {
            "url": f"{scheme}://127.0.0.1:{port}/{copy}/{name}",
            "caption": f"a photo of a {name[10:-5].replace('_', ' ')}",
        }
        for copy in ("a", "b")
        for name in names
    ]
    pq.write_table(pa.Table.from_pylist(rows), os.path.join(work, "urls.parquet"))
    with open(os.path.join(work, "queries.txt"), "w") as f:
        f.write("photo\n")
    return len(rows)


def _tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants (from /proc)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{p}/task/{p}/children") as f:
                stack += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


ENV = dict(os.environ)  # with --tls: SSL_CERT_FILE names the bench's certificate


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run `cmd`; return (wall seconds, peak RSS bytes of its process tree)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env or ENV
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, peak


def run_ours(
    work: str, out: str, workers: int, python: str = sys.executable, extra: tuple[str, ...] = ()
) -> tuple[float, int, int]:
    """Our build on the DirectRunner; returns (wall, peak RSS, successes)."""
    cmd = [python, "beam_runner.py", *extra, f"--input={work}/urls.parquet", "--input_format=parquet",
           f"--queries={work}/queries.txt", f"--output={out}", "--allowed_networks=127.0.0.0/8",
           "--dedup_images=false", "--max_per_query=1000000", "--samples_per_shard=1000",
           "--image_size=256", "--resize_mode=keep_ratio", "--encode_quality=95",
           "--per_host_rate=0", "--min_image_size=1", "--max_aspect_ratio=1000",
           "--unsafe_policy=off", "--detect_faces=false", "--blur_faces=false"]  # fmt: skip
    # img2dataset scores nothing: like for like (the checks' own cost is bench/safety.py's)
    if workers > 1:  # per worker: img2dataset's threads per process, no per-host cap beyond that
        cmd += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
        cmd += [f"--download_threads={THREADS}", f"--per_host_connections={THREADS}"]
    else:  # one process with the same total concurrency as img2dataset's processes x threads
        threads = THREADS * WORKERS
        cmd += [f"--download_threads={threads}", f"--per_host_connections={threads}"]
    wall, peak = _timed(cmd)
    with open(os.path.join(out, "summary.json")) as f:
        return wall, peak, json.load(f)["kept"]


def run_img2dataset(binary: str, work: str, out: str, processes: int) -> tuple[float, int, int]:
    """img2dataset with `processes` processes; returns (wall, peak RSS, successes)."""
    cmd = [binary, f"--url_list={work}/urls.parquet", "--input_format=parquet", "--url_col=url",
           "--caption_col=caption", "--output_format=webdataset", f"--output_folder={out}",
           f"--processes_count={processes}", f"--thread_count={THREADS}", "--image_size=256",
           "--resize_mode=keep_ratio", "--resize_only_if_bigger=True", "--encode_quality=95",
           "--number_sample_per_shard=1000", "--enable_wandb=False"]  # fmt: skip
    env = dict(ENV, NO_ALBUMENTATIONS_UPDATE="1")
    wall, peak = _timed(cmd, env)
    successes = 0
    for path in glob.glob(os.path.join(out, "*_stats.json")):
        with open(path) as f:
            successes += json.load(f)["successes"]
    return wall, peak, successes


def _row(
    name: str, results: list[tuple[float, int, int]], n: int
) -> tuple[str, float, float, int, float]:
    wall = statistics.median(r[0] for r in results)
    ok = int(statistics.median(r[2] for r in results))
    peak = statistics.median(r[1] for r in results) / 2**20
    return name, wall, ok / wall, ok, peak


def main() -> None:
    """Run both tools alternately and print the comparison table."""
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--img2dataset", default="img2dataset", help="img2dataset executable")
    parser.add_argument(
        "--backend-python",
        help="Python of a venv with our package and img2dataset: adds a row for our build "
        "with --downloader img2dataset",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.0, help="server latency in seconds")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS (self-signed, trusted)")
    parser.add_argument(
        "--rtt",
        type=float,
        default=0.0,
        help="network round trip in seconds: 1 per request, 1 more per new connection (2 with TLS)",
    )
    args = parser.parse_args()
    global WORKERS
    WORKERS = args.workers
    _Quiet.latency, _Quiet.rtt = args.latency, args.rtt
    if not os.path.isdir(PHOTOS):
        sys.exit(f"photos not found: {PHOTOS}")
    ours = f"wit {args.workers} workers"
    results: dict[str, list] = {"img2dataset": [], "wit 1 process": [], ours: []}
    if args.backend_python:
        results["wit, img2dataset backend"] = []
    with tempfile.TemporaryDirectory() as work:
        tls = _certificate(work) if args.tls else None
        if tls:
            ENV["SSL_CERT_FILE"] = tls[0]
        httpd, port = _serve(PHOTOS, tls)
        n = _write_inputs(work, port, "https" if tls else "http")
        for i in range(args.runs):
            results["img2dataset"].append(
                run_img2dataset(args.img2dataset, work, f"{work}/i2d{i}", args.workers)
            )
            results["wit 1 process"].append(run_ours(work, f"{work}/one{i}", 1))
            results[ours].append(run_ours(work, f"{work}/wit{i}", args.workers))
            if args.backend_python:
                backend = (args.backend_python, ("--downloader=img2dataset",))
                out = f"{work}/i2dbackend{i}"
                results["wit, img2dataset backend"].append(run_ours(work, out, 1, *backend))
            print(
                f"run {i + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f} s" for k, v in results.items()),
                flush=True,
            )
    httpd.shutdown()
    rows = [_row(name, res, n) for name, res in results.items()]
    print(
        f"\n{n} {'HTTPS' if args.tls else 'HTTP'} URLs, {args.workers} processes/workers, "
        f"latency {args.latency} s, rtt {args.rtt} s, median of {args.runs} runs"
    )
    print(f"{'tool':<26}{'wall s':>8}{'images/s':>10}{'success':>9}{'peak MB':>9}{'ratio':>7}")
    for name, wall, rate, ok, peak in rows:
        print(f"{name:<26}{wall:>8.1f}{rate:>10.1f}{ok:>9}{peak:>9.0f}{rate / rows[0][2]:>6.2f}x")


if __name__ == "__main__":
    main()
