"""Progress: tqdm bars on a terminal, throttled plain lines otherwise."""

from __future__ import annotations

import io

from pipeline import bars


def test_plain_lines_when_not_a_terminal(monkeypatch, capsys):
    monkeypatch.delenv("WIT_PROGRESS", raising=False)
    assert not bars.interactive(io.StringIO())
    with bars.bar("images embedded", total=10, unit="img", every=3600) as b:
        b.update(4, duplicate_pairs=1)
        assert capsys.readouterr().err == ""  # not due yet
        b.update(1)
    (line,) = capsys.readouterr().err.splitlines()  # one line when it closes
    assert line.startswith("[wit progress] images embedded: 5/10 img | ")
    assert " img/s | 00:00 | ETA 00:00 | duplicate_pairs=1" in line


def test_lines_when_due_and_none_when_off(monkeypatch, capsys):
    monkeypatch.setenv("WIT_PROGRESS", "plain")
    b = bars.Bar("texts", unit="text", every=0)
    b.update(1)
    b.update(2)
    assert capsys.readouterr().err.count("[wit progress] texts: ") == 2
    monkeypatch.setenv("WIT_PROGRESS", "off")
    with bars.bar("texts", every=0) as b:
        b.update(5)
    assert capsys.readouterr().err == ""


def test_bars_when_asked(monkeypatch, capsys):
    monkeypatch.setenv("WIT_PROGRESS", "bars")
    assert bars.interactive(io.StringIO())
    with bars.bar("steps", total=4, unit="step") as b:
        b.update(4, loss=0.25)
    err = capsys.readouterr().err
    assert "steps: 100%|" in err and "4/4" in err and "loss=0.25" in err and "[wit" not in err
