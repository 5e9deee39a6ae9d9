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


def test_governance_frame_and_label() -> None:
    from riskparams.views import GOVERNANCE_COLUMNS, governance_frame, proposal_label

    row = {"id": "a" * 64, "status": "in_review", "profile": "perp", "assets": ["BTC", "ETH"], "revision": 2,
           "sign_offs": ["carol"], "dissents": [], "quorum": 2, "created_at": "2026-11-21T10:00:00Z", "extra": 1}
    frame = governance_frame([row])
    assert tuple(frame.columns) == GOVERNANCE_COLUMNS
    assert frame.iloc[0].to_dict() == {**{k: row[k] for k in GOVERNANCE_COLUMNS}, "id": "a" * 12,
                                       "assets": "BTC, ETH", "sign_offs": "carol", "dissents": ""}
    assert proposal_label(row) == "aaaaaaaaaaaa (in_review, perp: BTC, ETH)"


def test_rationale_strips_the_symbol_and_appends_the_notes_once() -> None:
    from riskparams.views import rationale

    content = {"assets": [
        {"symbol": "BTC", "rationale": "BTC: model garch-t.", "notes": ["Tier 3 (from 5M): 20x against 50x."]},
        {"symbol": "ETH", "rationale": "ETH: model ewma.", "notes": []},
    ]}
    out = rationale(content)
    assert out["BTC"] == "model garch-t. Notes: Tier 3 (from 5M): 20x against 50x."
    assert out["ETH"] == "model ewma."
