"""The `riskparams` command: exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli as run

from riskparams.cli import main

BARS = """timestamp,open,high,low,close,volume
2024-01-01T00:00:00Z,100,110,95,105,10
2024-01-02T00:00:00Z,105,112,101,108,12
2024-01-03T00:00:00Z,108,109,99,100,9
"""


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    return path


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("init", "demo", "ingest", "fetch", "assets", "quality", "serve"):
        assert cmd in out


def test_init_creates_the_store(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "init")
    assert code == 0 and db.exists() and str(db) in out


def test_ingest_then_assets_json(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bars.csv"
    f.write_text(BARS)
    code, out, _ = run(capsys, "ingest", str(f), "--symbol", "abc", "--source", "test")
    assert code == 0 and "3 bars added" in out
    code, out, _ = run(capsys, "assets", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 1
    row = rows[0]
    assert {k: row[k] for k in ("symbol", "source", "freq", "rows")} == {
        "symbol": "ABC", "source": "test", "freq": "1d", "rows": 3,
    }
    assert row["first"] == "2024-01-01T00:00:00Z" and row["last"] == "2024-01-03T00:00:00Z"


def test_db_flag_overrides_env(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.duckdb"
    code, _, _ = run(capsys, "--db", str(other), "init")
    assert code == 0 and other.exists() and not db.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["quality", "NOPE"], "no stored series for symbol 'NOPE'"),
        (["ingest", "missing.csv", "--symbol", "A"], "no such file"),
        (["ingest", "x.csv", "--symbol", "A;DROP TABLE prices"], "is not valid"),
        (["ingest", "x.csv", "--symbol", "=HYPERLINK(1)"], "is not valid"),
        (["serve", "--port", "99999"], "port must be between 1 and 65535"),
        (["quality"], "required"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    db: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    try:
        code = main(args)
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    _, err = capsys.readouterr()
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert "Traceback" not in err


def test_bad_file_is_one_line_exit_2_and_store_unchanged(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(BARS)
    assert main(["ingest", str(good), "--symbol", "ABC"]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(BARS + "2024-01-04T00:00:00Z,100,abc,95,105,10\n")
    capsys.readouterr()
    code, _, err = run(capsys, "ingest", str(bad), "--symbol", "ABC")
    assert code == 2
    assert err.strip() == (
        "riskparams: error: bad.csv: row 5, column 'high': value 'abc' is not a number."
    )
    code, out, _ = run(capsys, "assets", "--json")
    assert json.loads(out)[0]["rows"] == 3


def test_quality_json_and_text(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bars.csv"
    f.write_text(BARS.replace("2024-01-03", "2024-01-05"))  # two missing days
    assert main(["ingest", str(f), "--symbol", "GAP"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "quality", "GAP", "--json")
    report = json.loads(out)
    assert code == 0
    assert report["gap_count"] == 1 and report["missing_bars"] == 2
    assert report["coverage"] == pytest.approx(3 / 5)
    code, out, _ = run(capsys, "quality", "GAP")
    assert code == 0 and "1 gaps with 2 missing bars" in out


def test_demo_is_idempotent_and_labelled(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out1 = capsys.readouterr().out
    assert "[synthetic]" in out1
    code, out, _ = run(capsys, "assets", "--json")
    first = json.loads(out)
    assert len({r["symbol"] for r in first}) >= 8
    assert all(r["synthetic"] and r["source"] == "synthetic" for r in first)
    assert {r["freq"] for r in first} >= {"1d", "1h"}
    assert main(["demo"]) == 0
    capsys.readouterr()
    _, out, _ = run(capsys, "assets", "--json")
    assert json.loads(out) == first


def test_console_script_runs_as_a_process(db: Path) -> None:
    """The installed entry point: a user mistake gives exit code 2 and one stderr line, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "riskparams.cli", "quality", "NOPE"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_serve_stops_with_its_process(tmp_path: Path) -> None:
    """`riskparams serve` becomes the Streamlit server: stopping it leaves no server behind."""
    import os
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, RISKPARAMS_DB=str(tmp_path / "serve.duckdb"))
    proc = subprocess.Popen([sys.executable, "-m", "riskparams.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/_stcore/health"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("the server did not come up")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    time.sleep(0.5)
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)
