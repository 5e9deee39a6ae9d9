"""``riskparams impact`` (service.impact) and proposal_impact read the store's daily closes once, and the result
is the one the two separate reads gave (issue 14 review, item 1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskparams.book import Book, PerpPosition, load_positions
from riskparams.book.impact import MarginSchedule, simulate_impact
from riskparams.book.stress import joint_returns
from riskparams.exceptions import DataError
from riskparams.ingest import ingest_frame
from riskparams.store import Store
from riskparams.store.core import Store as CoreStore

SYMBOLS = ("BTC", "ETH")


def _frame(close: np.ndarray, start: str) -> pd.DataFrame:
    o = np.concatenate([[close[0]], close[:-1]])
    return pd.DataFrame({"ts": pd.date_range(start, periods=len(close), freq="D", tz="UTC"), "open": o,
                         "high": np.maximum(o, close) * 1.001, "low": np.minimum(o, close) * 0.999, "close": close,
                         "volume": np.full(len(close), 1e4)})


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """BTC daily from 2020-01-01 (500 days), ETH daily from 2020-02-15 (400 days): the joint days are ETH's, so a
    reader that does not align the two (drop days one of them lacks) gets other returns."""
    rng = np.random.default_rng(11)
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        btc = 9_000.0 * np.exp(np.cumsum(rng.normal(0, 0.04, 500)))
        eth = 200.0 * np.exp(np.cumsum(rng.normal(0, 0.05, 400)))
        ingest_frame(s, _frame(btc, "2020-01-01"), symbol="BTC", source="unit", origin="test")
        ingest_frame(s, _frame(eth, "2020-02-15"), symbol="ETH", source="unit", origin="test")
    return path


def _book(tmp_path: Path) -> Path:
    rows = [("a", "BTC", "long", 100_000, 8_000, "isolated"), ("b", "ETH", "short", 50_000, 4_000, "isolated"),
            ("x", "BTC", "long", 200_000, 30_000, "cross"), ("x", "ETH", "short", 180_000, 30_000, "cross"),
            ("c", "ETH", "long", 400_000, 30_000, "isolated")]
    book = Book.from_positions([PerpPosition(account=a, symbol=s, side=d, notional=n, equity=e, margin_mode=m)
                                for a, s, d, n, e, m in rows])
    return book.write_csv(tmp_path / "book.csv")


def _params(tmp_path: Path) -> Path:
    p = tmp_path / "params.csv"
    p.write_text("symbol,notional_cap,max_leverage,maintenance_rate,unit\nBTC,,20,0.025,fraction\n"
                 "ETH,,20,0.03,fraction\n", encoding="utf-8")
    return p


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every ``Store.load_prices`` call (series id), the one way bars leave the store."""
    seen: list[int] = []
    original = CoreStore.load_prices

    def counted(self: Any, series_id: int, *args: Any, **kwargs: Any) -> Any:
        seen.append(int(series_id))
        return original(self, series_id, *args, **kwargs)

    monkeypatch.setattr(CoreStore, "load_prices", counted)
    yield seen


def _old_joint_daily_returns(store: Store, symbols: tuple[str, ...]) -> np.ndarray:
    """The returns as the simulation read them before (a second read of the store): pandas alignment of each
    daily series on its bar times, rows with a missing close dropped, then ``pct_change``."""
    from riskparams.service import load_series

    closes = {s: load_series(store, s, freq="1d")[1]["close"] for s in symbols}
    joint = pd.DataFrame(closes).dropna()
    return joint.pct_change().dropna()[list(symbols)].to_numpy(dtype=float)


def test_joint_returns_by_hand() -> None:
    # rows: (100, 10), (50, NaN) dropped, (75, 12), (150, 6): returns 75/100 - 1, 12/10 - 1; 150/75 - 1, 6/12 - 1
    r = joint_returns(np.array([[100.0, 10.0], [50.0, np.nan], [75.0, 12.0], [150.0, 6.0]]))
    assert r.ravel().tolist() == pytest.approx([-0.25, 0.2, 1.0, -0.5], abs=1e-15)
    assert joint_returns(np.array([[1.0, np.nan]])).shape == (0, 2)


def test_impact_reads_each_series_once_and_is_unchanged(db: Path, tmp_path: Path, reads: list[int]) -> None:
    from riskparams.service import impact, portfolio_stress

    params, book_path = _params(tmp_path), _book(tmp_path)
    windows = ["spring=2020-03-09:2020-03-20"]
    with Store(db) as store:
        r = impact(params, book_path, store=store, sims=300, seed=4, windows=windows, insurance_fund=5_000, adl=True)
        n_reads = len(reads)
        # the same figures by the old route: the returns of a second, separate read, and the stress paths of a
        # separate read (portfolio_stress reads the closes itself)
        old = _old_joint_daily_returns(store, SYMBOLS)
        alone = portfolio_stress(store, params, book_path, windows=windows, carry_fund=False, insurance_fund=5_000,
                                 adl=True)
    assert n_reads == len(SYMBOLS), reads  # one read per symbol (before: two)
    assert len(set(reads[:n_reads])) == len(SYMBOLS)
    new = r.simulation
    assert new is not None and new.days == len(old) == 399  # ETH's 400 days give 399 joint returns
    b = load_positions(book_path, "perp")
    assert isinstance(b, Book)
    tables = {"BTC": MarginSchedule(floors=np.array([0.0]), mmfs=np.array([0.025]), deductions=np.zeros(1),
                                    costs=np.zeros(1)),
              "ETH": MarginSchedule(floors=np.array([0.0]), mmfs=np.array([0.03]), deductions=np.zeros(1),
                                    costs=np.zeros(1))}
    expected = simulate_impact(b, tables, old, n_sims=300, seed=4, insurance_fund=5_000)
    assert new.to_dict() == expected.to_dict()
    assert r.stress is not None and r.stress.to_dict() == alone.to_dict()
    assert r.stress.to_dict()["stress_windows"][0]["status"] == "ok"


def test_returns_from_one_read_equal_the_old_pandas_route(db: Path) -> None:
    from riskparams.service import joint_daily_closes, joint_daily_returns

    with Store(db) as store:
        daily = joint_daily_closes(store, list(SYMBOLS))
        new = joint_daily_returns(store, SYMBOLS, daily=daily)
        assert np.array_equal(new, _old_joint_daily_returns(store, SYMBOLS))  # bit for bit
        assert np.array_equal(joint_daily_returns(store, SYMBOLS), new)
        with pytest.raises(DataError, match="no daily price series of SOL in the store"):
            joint_daily_returns(store, ("BTC", "SOL"))


def test_proposal_impact_reads_each_series_once(db: Path, reads: list[int], tmp_path: Path) -> None:
    """proposal_impact (the Book page, ``propose --positions``) shares one read between the simulation and the
    stress paths of every set."""
    from riskparams import service
    from riskparams.config import load_policy

    policy = tmp_path / "fast.toml"
    policy.write_text('[model]\nmodel = "garch"\nn_sims = 300\nmin_history = 300\n\n[liquidity.adv_override]\nBTC = 2e9\nETH = 1e9\n')
    book = Book.from_positions([PerpPosition(account="a", symbol="BTC", side="long", notional=1e5, equity=1e4,
                                             margin_mode="isolated"),
                                PerpPosition(account="b", symbol="ETH", side="short", notional=1e5, equity=1e4,
                                             margin_mode="isolated")])
    with Store(db) as store:
        run = service.propose(store, profile="perp", symbols=list(SYMBOLS), policy=load_policy(policy))
        reads.clear()
        assert run.stored is not None, run.proposal.skipped
        payload = service.proposal_impact(store, run.stored.id, book, sims=50, save=False)
    assert sorted(reads) == sorted(set(reads)) and len(reads) == len(SYMBOLS), reads
    assert payload.to_dict()["sets"]["proposal"]["var_insolvent_debt"]["p99"] is not None
    assert payload.to_dict()["sets"]["proposal"]["stress_windows"]


def test_stress_windows_carry_the_top_n_share(db: Path, tmp_path: Path) -> None:
    """impact(top_n=N) gives every stress path the top-N share of its liquidated notional (the Book page's
    scenarios table showed "None" there)."""
    from riskparams.service import impact

    with Store(db) as store:
        r = impact(_params(tmp_path), _book(tmp_path), store=store, windows=["spring=2020-03-09:2020-03-20"], top_n=1)
    assert r.stress is not None and r.stress.top_n == 1
    rows = r.stress.window_dicts()
    for row, res in zip(rows, r.stress.results, strict=True):
        assert res is not None
        want = res.top_share(1)
        assert row["top_share"] == (None if want is None else pytest.approx(want))
        # by hand from the per-account notional: the largest account's share
        if want is not None:
            assert want == pytest.approx(res.account_notional.max() / res.account_notional.sum())
    assert any(row["top_share"] is not None for row in rows)
