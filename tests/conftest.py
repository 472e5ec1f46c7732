"""Shared fixtures: a small generated sample web and a server for it on 127.0.0.1."""

from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# The shared data folder beside the checkout; WIT_SHARED_DATA points elsewhere (tests skip without).
SHARED_DATA = os.environ.get("WIT_SHARED_DATA") or os.path.join(ROOT, "..", "shared", "data")


def pytest_sessionstart(session: pytest.Session) -> None:
    """CI sets WIT_REQUIRE_SHARED_DATA=1: the real-data tests must run there, never skip."""
    if os.environ.get("WIT_REQUIRE_SHARED_DATA") == "1" and not os.path.isdir(SHARED_DATA):
        raise pytest.UsageError(f"WIT_REQUIRE_SHARED_DATA=1 but {SHARED_DATA} is not a folder")


@pytest.fixture(scope="session")
def small_web(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small sample web (20 pages) generated once per test session."""
    from pipeline.sampleweb import SampleWebConfig, generate

    root = str(tmp_path_factory.mktemp("small-web"))
    return generate(root, SampleWebConfig(seed=1, pages=20, eval_images=8, planted_copies=4))


@pytest.fixture(scope="session")
def web_server(small_web: str):
    """The small sample web served on 127.0.0.1 (an ephemeral port)."""
    from pipeline.webserver import SampleWebServer

    with SampleWebServer(small_web) as server:
        yield server


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server():
    """A standalone moto S3 server, its own process on 127.0.0.1; yields its endpoint URL."""
    import subprocess
    import time
    import urllib.request

    port = _free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "moto server exited"
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch):
    """Point boto3 (standard chain, AWS_ENDPOINT_URL) at the moto server with fake credentials."""
    from pipeline import s3

    for name, value in {
        "AWS_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "testing-key-id",
        "AWS_SECRET_ACCESS_KEY": "testing-secret-never-logged",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3.reset()
    yield s3_server
    s3.reset()
