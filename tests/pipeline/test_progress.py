"""Progress lines, JSON logs and the counters table."""

from __future__ import annotations

import json
import logging

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import progress


def test_tick_prints_a_progress_line_when_due(monkeypatch, capsys):
    monkeypatch.setenv("WIT_PROGRESS_INTERVAL", "0.000001")
    monkeypatch.setenv("WIT_LOG_FORMAT", "json")
    monkeypatch.setattr(progress, "_STATE", progress._State())
    progress.tick("filter_text", "kept")
    progress.tick("filter_text", "empty_caption")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "progress" and line["stages"]["filter_text"]["kept"] == 1


def test_no_progress_lines_when_off(monkeypatch, capsys):
    monkeypatch.setenv("WIT_PROGRESS_INTERVAL", "0")
    monkeypatch.setattr(progress, "_STATE", progress._State())
    for _ in range(100):
        progress.tick("download", "kept")
    assert capsys.readouterr().err == ""


def test_counters_table_and_event():
    table = {"download": {"kept": 9, "http_404": 2}, "shards": {"shards_written": 1}}
    text = progress.format_metrics(table, 1.5)
    assert "download" in text and "http_404 2" in text and "shards_written 1" in text
    assert json.loads(progress.metrics_event(table, 1.5))["counters"] == table


def test_json_formatter_and_options(monkeypatch):
    record = logging.LogRecord("wit", logging.WARNING, __file__, 1, "hello %s", ("x",), None)
    assert json.loads(progress.JsonFormatter().format(record))["message"] == "hello x"
    opts = PipelineOptions(["--progress_interval=2", "--log_format=json"])
    monkeypatch.setattr(logging.getLogger(), "handlers", list(logging.getLogger().handlers))
    monkeypatch.setenv("WIT_PROGRESS_INTERVAL", "10")  # restored after the test
    monkeypatch.setenv("WIT_LOG_FORMAT", "text")
    progress.configure(opts)
    import os

    assert os.environ["WIT_PROGRESS_INTERVAL"] == "2.0" and os.environ["WIT_LOG_FORMAT"] == "json"
