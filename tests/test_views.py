"""Tests of :mod:`riskparams.views` (page view models) that the page tests do not reach."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

from riskparams.backtest_content import REPORT_FORMAT, StoredBacktest, StoredBacktestAsset, StoredParameterSet
from riskparams.views import backtest_model_caption


def _report(models: list[str], schedule: str = "refit every bar") -> StoredBacktest:
    """A typed stored report with one asset whose policy replay's proposals used ``models``."""
    sets = tuple(StoredParameterSet(name=kind, kind=kind, source="", side="long", claimed=None,
                                    detail={"proposals": [{"model": m} for m in used]})
                 for kind, used in (("fixed", []), ("policy", models)))
    asset = StoredBacktestAsset(
        symbol="BTC", freq="1d", source="x", kind="perp", synthetic=False, fingerprint="", start="2024-01-01T00:00:00Z",
        end="2024-12-31T00:00:00Z", bars=366, observations=365, horizon_bars=1, window=1000,
        model="auto-t (lowest BIC of garch, gjr, egarch at each refit; zero mean), fast engine", schedule=schedule,
        fast_status={}, notes=(), stress_windows=(), cost_model={}, live_tier1={}, sets=sets, detail={})
    return StoredBacktest(format=REPORT_FORMAT, profile="perp", start=asset.start, end=asset.end, spec={}, policy={},
                          results=(), assets=(asset,), skipped=(), provenance={})


def test_backtest_model_caption_counts_the_models_the_proposals_used() -> None:
    line = backtest_model_caption(_report(["egarch-t", "garch-t", "egarch-t", "ewma-normal", "egarch-t"]), "BTC")
    assert line == ("BTC: model auto-t (lowest BIC of garch, gjr, egarch at each refit; zero mean), fast engine; "
                    "window 1000 bars, horizon 1 bar(s), refit every bar; egarch-t at 3 proposals, "
                    "ewma-normal at 1 proposal, garch-t at 1 proposal.")


def test_backtest_model_caption_of_a_single_model_names_no_counts() -> None:
    line = backtest_model_caption(_report(["garch-t", "garch-t"], schedule=""), "BTC")
    assert line.endswith("window 1000 bars, horizon 1 bar(s).")


def test_governance_frame_and_label() -> None:
    import pandas as pd

    from riskparams.views import GOVERNANCE_COLUMNS, governance_frame, proposal_label

    row = {"id": "a" * 64, "status": "in_review", "profile": "perp", "assets": ["BTC", "ETH"], "revision": 2,
           "sign_offs": ["carol"], "dissents": [], "quorum": 2, "created_at": "2026-11-21T10:00:00Z", "extra": 1}
    frame = governance_frame([row])
    assert tuple(frame.columns) == GOVERNANCE_COLUMNS
    assert frame.iloc[0].to_dict() == {**{k: row[k] for k in GOVERNANCE_COLUMNS}, "id": "a" * 12,
                                       "assets": "BTC, ETH", "sign_offs": "carol", "dissents": "",
                                       "created_at": pd.Timestamp("2026-11-21T10:00:00Z")}
    micro = governance_frame([{**row, "created_at": "2026-12-05T04:41:31.692613Z"}])  # as the store writes them
    assert micro.iloc[0]["created_at"] == pd.Timestamp("2026-12-05 04:41:31.692613", tz="UTC")
    assert proposal_label(row) == "aaaaaaaaaaaa (in_review, perp: BTC, ETH)"


def test_rationale_strips_the_symbol_and_appends_the_notes_once(proposals: dict[str, Any]) -> None:
    import dataclasses

    from riskparams.views import rationale

    p = proposals["perp"]
    btc, eth = p.assets
    p = dataclasses.replace(p, assets=(
        dataclasses.replace(btc, rationale=f"{btc.symbol}: model garch-t.", notes=("Tier 3 (from 5M): 20x against 50x.",)),
        dataclasses.replace(eth, rationale=f"{eth.symbol}: model ewma.", notes=()),
    ))
    out = rationale(p)
    assert out[btc.symbol] == "model garch-t. Notes: Tier 3 (from 5M): 20x against 50x."
    assert out[eth.symbol] == "model ewma."


# -------------------------------------------------------------------------------------------------
# the Volatility page's panel: the compiled engine equals arch
# -------------------------------------------------------------------------------------------------


def _garch_t_bars(n: int, freq: str, omega: float, alpha: float, beta: float, nu: float, seed: int) -> Any:
    """OHLC bars whose close-to-close log returns follow GARCH(1,1) with standardized t(nu) innovations (omega in
    percent squared)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = np.empty(n)
    s2 = omega / (1.0 - alpha - beta)
    for t in range(n):
        y[t] = math.sqrt(s2) * rng.standard_t(nu) * math.sqrt((nu - 2.0) / nu)
        s2 = omega + alpha * y[t] ** 2 + beta * s2
    close = 100.0 * np.exp(np.cumsum(y / 100.0))
    op = np.concatenate([[100.0], close[:-1]])
    return pd.DataFrame({"ts": pd.date_range("2022-01-01", periods=n, freq=freq, tz="UTC"), "open": op,
                         "high": np.maximum(op, close) * 1.002, "low": np.minimum(op, close) * 0.998, "close": close,
                         "volume": 1e3})


@pytest.fixture(scope="module")
def panel_store() -> Any:
    """1,500 daily GARCH-t(5) bars (DLY) and 8,000 hourly GARCH-t(4) bars (HLY), in memory."""
    from riskparams.ingest import ingest_frame
    from riskparams.store import Store

    s = Store.memory()
    ingest_frame(s, _garch_t_bars(1500, "D", 0.05, 0.08, 0.90, 5.0, 3), symbol="DLY", source="unit", kind="spot",
                 origin="test", freq="1d")
    ingest_frame(s, _garch_t_bars(8000, "h", 0.002, 0.06, 0.93, 4.0, 7), symbol="HLY", source="unit", kind="perp",
                 origin="test", freq="1h")
    yield s
    s.close()


@pytest.mark.parametrize("dist", ["t", "normal"])
@pytest.mark.parametrize("symbol", ["DLY", "HLY"])
def test_model_panel_compiled_engine_equals_arch(panel_store: Any, symbol: str, dist: str) -> None:
    """Every GARCH-family fit of the Volatility page's panel runs through the compiled engine and gives what
    arch's optimiser gives, on a daily series (24h = 1 bar: analytic risk) and an hourly one (24 bars: simulated
    paths with the same seeds). Tolerances: log-likelihood never worse than arch's by more than 1e-6 relative
    and within 1e-6 relative; parameters within 1e-3 absolute (nu 1e-2 relative), as arch stops within ~1e-6 of
    the maximum; next-bar and horizon volatility, VaR, ES and long-run volatility within 1e-3 relative (measured:
    <= 6e-5). EWMA has no estimated parameter: identical."""
    from riskparams.views import PANEL_MODELS, model_panel

    info = next(s for s in panel_store.list_series() if s.symbol == symbol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = model_panel(panel_store, info.series_id, dist=dist)
        slow = model_panel(panel_store, info.series_id, dist=dist, engine="arch")
    assert [m for m, _ in fast.entries] == [m for m, _ in slow.entries] == list(PANEL_MODELS)
    for (model, f_run), (_, s_run) in zip(fast.entries, slow.entries, strict=True):
        f, s = f_run.estimate, s_run.estimate
        assert f.fallback is None and s.fallback is None, model
        if model == "ewma":
            assert {**f.to_dict(), "spec_key": ""} == {**s.to_dict(), "spec_key": ""}  # the keys name the engine
            continue
        assert (f.engine, s.engine) == ("fast", "arch"), model
        assert f.loglik >= s.loglik - 1e-6 * abs(s.loglik), model
        assert f.loglik == pytest.approx(s.loglik, rel=1e-6), model
        assert set(f.params) == set(s.params)
        for name, value in s.params.items():
            assert f.params[name] == pytest.approx(value, **({"rel": 1e-2} if name == "nu" else {"abs": 1e-3})), \
                (model, name)
        for field in ("next_vol", "horizon_vol", "var", "es", "long_run_vol"):
            assert getattr(f, field) == pytest.approx(getattr(s, field), rel=1e-3), (model, field)
        assert f.horizon_bars == s.horizon_bars == (24 if symbol == "HLY" else 1)
    assert fast.table()["requested"].tolist() == list(PANEL_MODELS)


def test_model_panel_reports_progress_before_each_fit(panel_store: Any) -> None:
    from riskparams.views import PANEL_MODELS, model_panel

    info = next(s for s in panel_store.list_series() if s.symbol == "DLY")
    seen: list[tuple[int, int, str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model_panel(panel_store, info.series_id, dist="normal", progress=lambda *a: seen.append(a))
    assert seen == [(k, len(PANEL_MODELS), m) for k, m in enumerate(PANEL_MODELS)]


def test_model_table_shows_an_integrated_fit_as_blank_not_infinity(panel_store: Any) -> None:
    """An integrated fit (persistence 1: no long-run volatility, no half-life) is a blank cell with the note
    that says why, not "Infinity"; a mean-reverting fit keeps its numbers."""
    import dataclasses

    from riskparams.views import ModelPanel, model_panel

    info = next(s for s in panel_store.list_series() if s.symbol == "DLY")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = model_panel(panel_store, info.series_id, dist="t")
    (name, run), *rest = panel.entries
    est = dataclasses.replace(run.estimate, integrated=True, persistence=1.0, long_run_vol=math.inf)
    table = ModelPanel(series=panel.series, entries=((name, dataclasses.replace(run, estimate=est)), *rest)).table()
    row, other = table.iloc[0], table.iloc[1]
    assert math.isnan(row["long_run_vol_ann"]) and math.isnan(row["half_life_bars"])
    assert "integrated" in row["note"] and "long-run volatility undefined" in row["note"]
    assert math.isfinite(other["long_run_vol_ann"]) and math.isfinite(other["half_life_bars"])
    assert not table.isin([math.inf, -math.inf]).any().any()


def test_audit_trail_times_are_utc_timestamps_not_microsecond_strings() -> None:
    """The store writes event times with microseconds; the Governance page shows them to the second, so the
    frame carries timestamps (UTC), not the raw strings."""
    import pandas as pd

    from riskparams.views import audit_frame

    class Event:
        def __init__(self, at: str) -> None:
            self.at = at

        def to_dict(self) -> dict[str, Any]:
            return {"at": self.at, "actor": "alice", "actor_role": "chair", "action": "created", "from_status": None,
                    "to_status": "draft", "comment": None, "detail": {"assets": ["BTC"]}}

    frame = audit_frame([Event("2026-12-05T06:56:10.713762Z"), Event("2026-12-05T07:16:33+00:00")])
    assert isinstance(frame["at"].dtype, pd.DatetimeTZDtype) and str(frame["at"].dt.tz) == "UTC"
    assert frame["at"].iloc[0] == pd.Timestamp("2026-12-05 06:56:10.713762", tz="UTC")
    assert frame["at"].iloc[1] == pd.Timestamp("2026-12-05 07:16:33", tz="UTC")
    assert "BTC" in frame["detail"].iloc[0]
    assert list(frame["from"]) == list(frame["comment"]) == ["-", "-"]  # no previous status, no comment: not "None"


def test_plan_chart_of_a_single_date_spans_days_not_milliseconds() -> None:
    from riskparams.charts import plan_steps

    plan = {"profile": "perp", "initial": {"BTC:mmf:1": None}, "start": "2026-12-07", "min_days": 3,
            "steps": [{"date": "2026-12-07", "values": {"BTC:mmf:1": 0.017}}]}
    fig = plan_steps(plan)
    lo, hi = (pd_ts(x) for x in fig.layout.xaxis.range)
    assert (hi - lo).days == 14 and fig.layout.xaxis.tickformat == "%Y-%m-%d"
    plan["initial"] = {"BTC:mmf:1": 0.025}  # a current value: drawn min_days before step 1, no forced range
    assert plan_steps(plan).layout.xaxis.range is None


def pd_ts(x: Any) -> Any:
    import pandas as pd

    return pd.Timestamp(x)
