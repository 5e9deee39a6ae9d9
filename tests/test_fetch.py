"""`riskparams fetch` and `riskparams.ingest.fetch`: resume, store, errors, with a fake exchange (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_exchange import DAY, T0, FakeExchange, make_rows

from riskparams import cli
from riskparams.exceptions import ExchangeError
from riskparams.ingest import exchange as ex_mod
from riskparams.ingest import fetch
from riskparams.store import Store

ccxt = ex_mod.ccxt


def clock(n_days: int) -> int:
    """A 'now' just after the close of bar n_days - 1 (so bar n_days - 1 is closed)."""
    return T0 + n_days * DAY + 1


def test_fetch_stores_closed_bars_of_a_new_series() -> None:
    store = Store.memory()
    ex = FakeExchange(make_rows(10), page_limit=4)
    report = fetch(store, exchange=ex, symbol="BTC/USDT", timeframe="1d", since="2024-01-01",
                   now_ms=lambda: clock(8))
    assert report.rows_added == 8  # bars 8 and 9 are not closed at 'now'
    info = report.series
    assert (info.symbol, info.source, info.kind, info.freq) == ("BTC", "fakex", "spot", "1d")
    prices = store.load_prices(info.series_id)
    assert prices["open"].tolist() == [100.0 + i for i in range(8)]
    assert ex.calls[0]["since"] == T0


def test_fetch_resumes_from_the_last_stored_bar() -> None:
    store = Store.memory()
    rows = make_rows(20)
    fetch(store, exchange=FakeExchange(rows), symbol="BTC/USDT", timeframe="1d", since="2024-01-01",
          now_ms=lambda: clock(5))
    ex = FakeExchange(rows)
    report = fetch(store, exchange=ex, symbol="BTC/USDT", timeframe="1d", since="2019-01-01",
                   now_ms=lambda: clock(12))
    assert ex.calls[0]["since"] == T0 + 5 * DAY  # the bar after the last stored one, not --since
    assert report.rows_added == 7 and report.rows_unchanged == 0
    assert len(store.load_prices(report.series.series_id)) == 12


def test_fetch_up_to_date_adds_nothing() -> None:
    store = Store.memory()
    rows = make_rows(5)
    fetch(store, exchange=FakeExchange(rows), symbol="ETH/USDT", timeframe="1d", since="2024-01-01",
          now_ms=lambda: clock(5))
    before = store.counts()
    report = fetch(store, exchange=FakeExchange(rows), symbol="ETH/USDT", timeframe="1d",
                   now_ms=lambda: clock(5))
    assert report.rows_added == 0 and store.counts() == before


def test_perp_market_is_stored_as_perp() -> None:
    store = Store.memory()
    report = fetch(store, exchange=FakeExchange(make_rows(3)), symbol="BTC/USDT:USDT", timeframe="1d",
                   since="2024-01-01", now_ms=lambda: clock(3))
    assert report.series.kind == "perp" and report.series.symbol == "BTC"


def test_offline_is_a_clear_error_and_the_store_is_unchanged() -> None:
    store = Store.memory()
    fetch(store, exchange=FakeExchange(make_rows(3)), symbol="BTC/USDT", timeframe="1d",
          since="2024-01-01", now_ms=lambda: clock(3))
    before = store.counts()
    ex = FakeExchange(make_rows(10), errors=[ccxt.NetworkError("getaddrinfo failed")])
    with pytest.raises(ExchangeError, match="Could not reach fakex"):
        fetch(store, exchange=ex, symbol="BTC/USDT", timeframe="1d", now_ms=lambda: clock(10))
    assert store.counts() == before


def test_cli_fetch_offline_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RISKPARAMS_DB", str(tmp_path / "f.duckdb"))
    offline = FakeExchange(make_rows(3), errors=[ccxt.NetworkError("Temporary failure in name resolution")])
    monkeypatch.setattr(ex_mod, "make_exchange", lambda name: offline)
    code = cli.main(["fetch", "--exchange", "binance", "--symbol", "BTC/USDT", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Could not reach fakex" in lines[0]


def test_cli_fetch_stores_bars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "f.duckdb"
    monkeypatch.setenv("RISKPARAMS_DB", str(db))
    monkeypatch.setattr(ex_mod, "make_exchange", lambda name: FakeExchange(make_rows(4)))
    code = cli.main(["fetch", "--symbol", "SOL/USDT", "--since", "2024-01-01", "--quiet"])
    assert code == 0
    assert "4 bars added" in capsys.readouterr().out
    with Store(db) as store:
        assert store.resolve_series("SOL").rows == 4
