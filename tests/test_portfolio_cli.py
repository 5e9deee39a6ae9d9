"""``riskparams backtest --positions FILE --portfolio``: the book through the joint stress windows against one
insurance fund per fixed parameter set (issue 14), on the two-series store of tests/test_backtest_cli.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import cli_fails as fails
from conftest import run_cli as run
from test_backtest_cli import BASE, make_env

from riskparams.ingest.demo_book import demo_book
from riskparams.store import Store
from riskparams.store.backtest_records import list_reports


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Two daily series AAA, BBB in a store file, current.csv and wider.csv (tests/test_backtest_cli.py)."""
    return make_env(tmp_path, monkeypatch)


def _book(tmp: str) -> Path:
    return demo_book(400, symbols=("AAA", "BBB"), seed=3).write_csv(Path(tmp) / "book.csv")


def test_portfolio_stress_per_set_with_one_fund(capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> None:
    book = _book(env["dir"])
    code, out, err = run(capsys, *BASE, "--current", "current.csv", "--compare", "wider.csv", "--positions",
                         str(book), "--portfolio", "--json")
    assert code == 0, err
    p = json.loads(out)["portfolio"]
    assert p["n_positions"] == 400 and set(p["sets"]) == {"current", "wider"}
    for name, s in p["sets"].items():
        wf = s["waterfall"]
        assert wf["adl"] is True and wf["fund_carried"] is True and wf["fund_sized_by_rule"] is True
        assert s["insurance_fund_min"] >= 0 and not wf["fund_went_negative"], name
        ran = [w for w in s["stress_windows"] if w["bad_debt"] is not None]
        # the hypothetical correlated shocks always run; what the fund cannot pay is socialised
        assert any(w["name"].startswith("BTC") or "rho" in w["name"] for w in ran)
        for w in ran:
            assert w["fund_paid"] + w["socialised_loss"] == pytest.approx(w["bad_debt"], rel=1e-9, abs=1e-6)
    # wider margins liquidate earlier: never more bad debt in the worst window than the tighter current set
    worst = {n: max(w["bad_debt"] or 0.0 for w in s["stress_windows"]) for n, s in p["sets"].items()}
    assert worst["wider"] <= worst["current"] + 1e-6
    code, text, err = run(capsys, *BASE, "--current", "current.csv", "--positions", str(book), "--portfolio")
    assert code == 0, err
    assert "Portfolio stress: book.csv (400 positions)" in text and "current: fund" in text and "ADL on" in text


@pytest.mark.parametrize("extra, message", [
    (("--positions", "BOOK"), "--positions on backtest needs --portfolio"),
    (("--portfolio",), "--portfolio needs --positions FILE"),
    (("--portfolio", "--positions", "BOOK", "--insurance-fund", "-5"), "--insurance-fund '-5' must be an amount"),
    (("--portfolio", "--positions", "missing.csv"), "not found"),
])
def test_bad_portfolio_input_is_one_line_and_stores_nothing(capsys: pytest.CaptureFixture[str], env: dict[str, str],
                                                            extra: tuple[str, ...], message: str) -> None:
    book = str(_book(env["dir"]))
    args = [book if a == "BOOK" else a for a in extra]
    err = fails(capsys, *BASE, "--current", "current.csv", *args)
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    with Store(env["db"]) as s:
        assert list_reports(s) == []


def test_portfolio_without_a_fixed_set_is_refused(capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> None:
    err = fails(capsys, *BASE, "--positions", str(_book(env["dir"])), "--portfolio")
    assert "needs a fixed parameter set" in err
