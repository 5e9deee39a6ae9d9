"""`riskparams backtest` and `riskparams export --backtest ID|attached|FILE`: exit codes, JSON keys, one-line errors."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
from conftest import cli_fails as fails
from conftest import run_cli as run
from test_backtest import garch_prices

from riskparams.config import policy_from_dict
from riskparams.export import BACKTEST_RESULT_KEYS
from riskparams.governance import COMMITTEE_ENV_VAR, MEMBER_ENV_VAR
from riskparams.ingest import ingest_frame
from riskparams.service import propose
from riskparams.store import Store
from riskparams.store.backtest_records import attachments, list_reports

POLICY_TOML = """
[model]
model = "garch"
min_history = 250
"""
CURRENT = """symbol,notional_cap,max_leverage,maintenance_rate,liquidation_penalty,unit
AAA,1000000,20,0.025,0.01,fraction
AAA,,10,0.05,0.015,fraction
BBB,,10,0.05,0.01,fraction
"""
WIDER = """symbol,notional_cap,max_leverage,maintenance_rate,liquidation_penalty,unit
AAA,1000000,8,0.06,0.01,fraction
AAA,,5,0.1,0.015,fraction
BBB,,5,0.1,0.01,fraction
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A store file ($RISKPARAMS_DB) with two daily series and a perp draft proposal; policy and parameter files."""
    return make_env(tmp_path, monkeypatch)


def make_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The :func:`env` fixture's store and files (for other test modules)."""
    path = tmp_path / "b.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(path))
    monkeypatch.delenv(COMMITTEE_ENV_VAR, raising=False)
    monkeypatch.delenv(MEMBER_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.toml").write_text(POLICY_TOML)
    (tmp_path / "current.csv").write_text(CURRENT)
    (tmp_path / "wider.csv").write_text(WIDER)
    with Store(path) as s:
        for k, sym in enumerate(("AAA", "BBB")):
            frame = garch_prices(520, seed=k).reset_index()
            ingest_frame(s, frame, symbol=sym, source="unit", kind="perp", origin="test")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pid = propose(s, profile="perp", policy=policy_from_dict({"model": {"model": "ewma"}}), symbols=["AAA"]).id
    return {"db": str(path), "pid": pid, "dir": str(tmp_path)}


BASE = ("backtest", "--policy", "policy.toml", "--start", "2021-11-01", "--quiet")


def test_backtest_json_has_the_export_shape(capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> None:
    code, out, err = run(capsys, *BASE, "--current", "current.csv", "--compare", "wider.csv", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert list(d)[:8] == ["id", "created_at", "start", "end", "profile", "results", "stored_now", "attached_to"]
    assert d["stored_now"] and len(d["id"]) == 64 and d["created_at"].endswith("Z")
    assert d["start"] == "2021-11-01T00:00:00Z" and d["end"] == "2022-06-04T00:00:00Z"
    assert all(tuple(r) == BACKTEST_RESULT_KEYS for r in d["results"])
    got = {(r["symbol"], r["parameter_set"]) for r in d["results"]}
    assert got == {("AAA", "policy"), ("AAA", "current"), ("AAA", "wider"), ("BBB", "policy"), ("BBB", "current"),
                   ("BBB", "wider")}
    wide = next(r for r in d["results"] if r["parameter_set"] == "wider" and r["symbol"] == "AAA")
    assert wide["avg_margin"] == pytest.approx(0.06)
    assert {"assets", "spec", "policy", "provenance", "skipped"} <= set(d)
    assert "paths" not in d["assets"][0]
    for a in d["assets"]:
        # the policy's own tier-1 margin period of risk (hours on these markets, under a daily bar) and its margin
        assert set(a["live_tier1"]) == {"mpor_hours", "avg_mmf", "avg_max_leverage"}
        assert 0 < a["live_tier1"]["mpor_hours"] < 24 and a["horizon_bars"] == 1
        claimed = {s["name"]: s["claimed"] for s in a["sets"]}
        assert claimed["current"] is None and claimed["wider"] is None  # fixed sets claim nothing
        c = claimed["policy"]
        assert c["n"] == next(r["n"] for r in d["results"] if (r["symbol"], r["parameter_set"]) == (a["symbol"], "policy"))
        assert 0 <= c["exceptions"] <= c["n"] and c["expected"] == pytest.approx(c["claimed_rate"] * c["n"])
    # the same run again: the same content, already stored
    code, out, _ = run(capsys, *BASE, "--current", "current.csv", "--compare", "wider.csv", "--json", "--paths")
    again = json.loads(out)
    assert code == 0 and again["id"] == d["id"] and not again["stored_now"] and "paths" in again["assets"][0]
    with Store(env["db"], read_only=True) as s:
        assert [r["id"] for r in list_reports(s)] == [d["id"]]


def test_backtest_text_is_a_table(capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> None:
    code, out, _ = run(capsys, *BASE, "--symbols", "AAA", "--current", "current.csv", "--cadence", "14",
                       "--stress", "spring=2022-03-01..2022-04-30")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("backtest ") and "(perp, stored now)" in lines[0] and "1 asset(s)" in lines[0]
    header = next(ln for ln in lines if ln.startswith("asset "))
    assert header.split()[:6] == ["asset", "set", "n", "exc", "exp", "Kupiec"]
    assert [ln.split()[:2] for ln in lines if ln.startswith("AAA ")] == [["AAA", "policy"], ["AAA", "current"]]
    assert "every 14 days" in out and "spring" in out
    assert "claimed coverage (policy, close-to-close, either side):" in out
    assert "capital: tier-1 MMF" in out and "the policy itself (tier-1 MPOR" in out


def test_attach_then_export_with_the_backtest(capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> None:
    pid = env["pid"]
    code, out, err = run(capsys, *BASE, "--symbols", "AAA", "--attach", pid[:10], "--as", "alice", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["attached_to"] == pid
    assert {r["parameter_set"] for r in d["results"]} == {"policy", f"proposal-{pid[:12]}"}
    with Store(env["db"], read_only=True) as s:
        att = attachments(s, pid)
    assert [a["report_id"] for a in att] == [d["id"]] and att[0]["actor"] == "alice"
    for ref in ("attached", d["id"][:10]):
        code, md, err = run(capsys, "export", pid, "-f", "md", "--as", "alice", "--backtest", ref, "-o", "-")
        assert code == 0, err
        assert f"Backtest `{d['id']}`" in md and f"proposal-{pid[:12]}" in md
        assert "Policy replay, warm-up vs steady state" in md and "| AAA | steady state |" in md
    # a payload file still works, and one written before the warm-up split (rows without phases) too
    Path("bt.json").write_text(json.dumps({k: d[k] for k in ("id", "created_at", "start", "end", "results")}))
    code, md, err = run(capsys, "export", pid, "-f", "md", "--as", "alice", "--backtest", "bt.json", "-o", "-")
    assert code == 0 and f"Backtest `{d['id']}`" in md
    old_rows = [{k: v for k, v in r.items() if k != "phases"} for r in d["results"]]
    Path("old.json").write_text(json.dumps({"id": d["id"], "start": d["start"], "end": d["end"], "results": old_rows}))
    code, md, err = run(capsys, "export", pid, "-f", "md", "--as", "alice", "--backtest", "old.json", "-o", "-")
    assert code == 0 and f"Backtest `{d['id']}`" in md and "warm-up vs steady state" not in md
    assert "backtest file" in fails(capsys, "export", pid, "-f", "md", "--as", "alice", "--backtest", "nope.json")
    assert "no stored backtest report has id" in fails(capsys, "export", pid, "-f", "md", "--as", "alice",
                                                       "--backtest", "abcdef12")


def test_backtest_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], env: dict[str, str],
                                            tmp_path: Path) -> None:
    assert "is not a date" in fails(capsys, *BASE[:3], "--start", "soon", "--quiet")
    assert "no such file, and not a stored proposal id" in fails(capsys, *BASE, "--compare", "missing.csv")
    assert "no stored proposal has id" in fails(capsys, *BASE, "--attach", "abcdef123")
    assert "are those of a perp parameter file" in fails(capsys, *BASE, "--profile", "lending",
                                                                "--current", "current.csv")
    assert "ZZZ" in fails(capsys, *BASE, "--symbols", "ZZZ")
    assert "min_history" in fails(capsys, *BASE[:3], "--start", "2021-03-01", "--quiet")
    assert "--symbols needs at least one symbol" in fails(capsys, *BASE, "--symbols", ",")
    assert "no spot series is stored (stored: 1d perp)" in fails(capsys, *BASE, "--kind", "spot")  # only perp
    assert fails(capsys, *BASE, "--kind", "future").startswith("riskparams: error: argument --kind")
    assert fails(capsys, *BASE, "--engine", "slow").startswith("riskparams: error: argument --engine")
    assert "NAME=START..END" in fails(capsys, *BASE, "--stress", "bad")
    assert "window must be an integer >= 50" in fails(capsys, *BASE, "--window", "10")
    empty = tmp_path / "empty.duckdb"
    assert "the store is empty" in fails(capsys, "--db", str(empty), *BASE)


def test_execution_lag_and_phases_in_text_and_json(capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> None:
    """`--execution-lag-days 5`: the text names the lag, the end of the warm-up, both blocks and the dead-band's effect;
    --json has the same blocks under the policy set, and the spec records the lag."""
    code, out, err = run(capsys, *BASE, "--symbols", "AAA", "--current", "current.csv", "--execution-lag-days", "5")
    assert code == 0, err
    assert "execution lag 5 days (a decision is in force that many days after it is taken); warm-up ends: " in out
    warm = next(ln for ln in out.splitlines() if ln.strip().startswith("warm-up"))
    steady = next(ln for ln in out.splitlines() if ln.strip().startswith("steady state"))
    for ln in (warm, steady):
        if not ln.strip().endswith(": none"):
            assert "exceptions in" in ln and "Kupiec p" in ln and "Christoffersen p" in ln and "peak/trough" in ln
            assert "governance actions a year" in ln
    assert re.search(r"dead-band 5\.0%: \d+ changes as replayed, \d+ without it \(dead-band 0, same path\)", out)
    code, out, err = run(capsys, *BASE, "--symbols", "AAA", "--current", "current.csv", "--execution-lag-days", "5",
                         "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["spec"]["execution_lag_days"] == 5.0
    pol = next(s for s in d["assets"][0]["sets"] if s["name"] == "policy")
    assert pol["execution"]["lag_days"] == 5.0 and pol["source"].endswith("execution lag 5 days")
    w, s = pol["warmup"], pol["steady_state"]
    assert w["bars"] + s["bars"] == d["assets"][0]["bars"]
    assert w["changes"] + s["changes"] == pol["capital"]["changes"] == pol["execution"]["changes"]
    assert pol["execution"]["changes_without_dead_band"] >= pol["execution"]["changes"]
    fixed_sets = [x for x in d["assets"][0]["sets"] if x["name"] != "policy"]
    assert fixed_sets and all("warmup" not in x for x in fixed_sets)


def test_bad_execution_lag_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> None:
    assert "execution_lag_days must be a number >= 0 and <= 365" in fails(capsys, *BASE, "--execution-lag-days", "-1")
    assert "execution_lag_days must be a number >= 0" in fails(capsys, *BASE, "--execution-lag-days", "nan")
    assert fails(capsys, *BASE, "--execution-lag-days", "soon").startswith("riskparams: error: argument "
                                                                          "--execution-lag-days")
    assert "warmup_max_days must be a number > 0" in fails(capsys, *BASE, "--warmup-max-days", "0")


def test_backtest_page_takes_the_lag_and_shows_both_phases(env: dict[str, str]) -> None:
    """The Backtest page: an execution-lag input; after a run, warm-up and steady state side by side (formatted
    text) with the lag and the dead-band's effect above them."""
    from streamlit.testing.v1 import AppTest

    from riskparams import ui

    with Store(env["db"]) as s:  # a longer daily series: the default policy needs 500 bars of history
        ingest_frame(s, garch_prices(800, seed=3).reset_index(), symbol="CCC", source="unit", kind="perp",
                     origin="test")
    ui._open_store.clear()
    ui.clear_data_caches()
    try:
        at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "4_Backtest.py"),
                               default_timeout=180).run()
        assert not at.exception and not at.error
        lag = next(n for n in at.number_input if n.label == "Execution lag (days)")
        assert lag.value == 0.0
        lag.set_value(5.0)
        next(m for m in at.multiselect if m.label.startswith("Assets")).set_value(["CCC"])
        next(b for b in at.button if b.label == "Run backtest").click().run()
        assert not at.exception and not at.error
        note = next(m.value for m in at.markdown if m.value.startswith("**Execution lag**"))
        assert note.startswith("**Execution lag** 5 days") and "without it (dead-band 0 on the same path)" in note
        frame = next(d.value for d in at.dataframe if "Steady state" in d.value.columns)
        assert list(frame.columns) == ["figure", "Warm-up", "Steady state"]
        row = dict(zip(frame["figure"], frame["Steady state"], strict=True))
        assert " / " in row["exceptions / expected"] and row["period"][:4].isdigit()
        assert dict(zip(frame["figure"], frame["Warm-up"], strict=True))["period"] == "none"  # no current parameters
    finally:
        ui._open_store.clear()
        ui.clear_data_caches()
