"""Shared fixtures: a small generated sample web and a server for it on 127.0.0.1."""

from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SHARED_DATA = os.path.join(ROOT, "..", "shared", "data")


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
