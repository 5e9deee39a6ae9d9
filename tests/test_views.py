"""Tests of :mod:`riskparams.views` (page view models) that the page tests do not reach."""

from __future__ import annotations

from riskparams.views import backtest_model_caption


def _content(models: list[str], schedule: str = "refit every bar") -> dict:
    return {"assets": [{
        "symbol": "BTC", "model": "auto-t (lowest BIC of garch, gjr, egarch at each refit; zero mean), fast engine",
        "window": 1000, "horizon_bars": 1, "schedule": schedule,
        "sets": [{"kind": "fixed", "proposals": []},
                 {"kind": "policy", "proposals": [{"model": m} for m in models]}],
    }]}


def test_backtest_model_caption_counts_the_models_the_proposals_used() -> None:
    line = backtest_model_caption(_content(["egarch-t", "garch-t", "egarch-t", "ewma-normal", "egarch-t"]), "BTC")
    assert line == ("BTC: model auto-t (lowest BIC of garch, gjr, egarch at each refit; zero mean), fast engine; "
                    "window 1000 bars, horizon 1 bar(s), refit every bar; egarch-t at 3 proposals, "
                    "ewma-normal at 1 proposal, garch-t at 1 proposal.")


def test_backtest_model_caption_of_a_single_model_names_no_counts() -> None:
    line = backtest_model_caption(_content(["garch-t", "garch-t"], schedule=""), "BTC")
    assert line.endswith("window 1000 bars, horizon 1 bar(s).")
