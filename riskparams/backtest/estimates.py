"""Volatility estimates of the policy replay: the compiled walk-forward of every asset at once, the estimate on
each cadence bar (from the walk-forward's state through :mod:`riskparams.volatility_fast`, or an arch fit
with the ``arch`` engine and on days every compiled fit failed) and the labels the report gives them.
Part of :mod:`riskparams.backtest`; the volatility math itself lives in the volatility layer."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from riskparams import fastgarch
from riskparams.backtest.prepare import _adv_at, _Prepared
from riskparams.backtest.spec import BacktestSpec, Engine
from riskparams.config import RiskPolicy
from riskparams.measures import Tail
from riskparams.returns import hours_per_bar
from riskparams.term import (
    HorizonQuantiles,
    RiskTerm,
    TermMethod,
    empirical_grids,
    quantile_levels,
    term_bars,
)
from riskparams.volatility import (
    DistName,
    FitSpec,
    ModelName,
    VolEstimate,
    fit_volatility,
    integrated_allowed,
    persistence_limit,
    stress_window_bars,
)
from riskparams.volatility_fast import (
    EWMA_DAY,
    ExpandingVol,
    FastLaw,
    day_selector,
    fast_dist,
    fast_law,
    fast_models,
    law_estimate,
)

_FALLBACK = "arch (fast fit failed)"
"""The engine label of an estimate arch made after every compiled fit of the day failed."""


class _Estimates:
    """The volatility estimates of one asset's policy replay, bar by bar (:meth:`at`), with the history they
    share: the policy's FitSpec with a horizon of the term structure's ``term_k`` bars, the sample and
    stressed volatility of all returns up to each bar (:attr:`history`), the historical-simulation grids
    and the walk-forward's model choice.

    Sweeps share work between replays (:meth:`keys`): replays with the same ``full`` key share one object
    (every estimate); replays with the same ``law`` key (the same fitted laws and term structures: the policy
    confidence and headline horizon may differ) share the fitted laws through :meth:`sharing`, and each
    makes only its own headline (:func:`~riskparams.volatility_fast.law_estimate`). Every estimate is the one
    an independent replay makes (the tests compare them)."""

    def __init__(self, p: _Prepared, policy: RiskPolicy, spec: BacktestSpec,
                 fast: Mapping[ModelName, fastgarch.WalkForwardResult] | None) -> None:
        freq = p.data.freq
        self.p, self.engine = p, spec.engine
        self.fs = fs = replace(policy.model, horizon_hours=p.term_k * float(hours_per_bar(freq)))
        self.models = fast_models(fs, p.term_k)
        self.dist, note_d = fast_dist(fs)
        self.notes = (note_d,) if note_d else ()
        self.stress_window = stress_window_bars(fs, freq)
        self.history = ExpandingVol.build(p.r, self.stress_window)
        self.day_of = day_selector(fast, persistence_limit(fs, freq), integrated_allowed(fs))
        self.k0 = int(p.nk[p.t0])
        self._emp_bars = term_bars(max(p.term_k, p.h))
        # the returns known at each computation of the historical-simulation grids: the first decision's, then
        # each decision's whose history has grown by more than 1% since the last computation
        anchors: list[int] = []
        for t in p.cadence:
            k = int(p.nk[int(t)])
            if not anchors or k > anchors[-1] * 1.01:
                anchors.append(k)
        self._emp_anchors = np.asarray(anchors, dtype=np.int64)
        # shared by every replay of the same law key (:meth:`sharing`)
        self._emp_at: dict[int, Sequence[HorizonQuantiles] | None] = {}
        self._laws: dict[int, FastLaw] = {}
        self._adv: dict[tuple[int, int], float] = {}
        self._at: dict[int, tuple[VolEstimate, str]] = {}

    def adv(self, t: int, window_days: int) -> float:
        """:func:`~riskparams.backtest.prepare._adv_at` of the asset's data, remembered (shared by
        :meth:`sharing`: the traded values are the data's, whatever the policy)."""
        key = (t, window_days)
        hit = self._adv.get(key)
        if hit is None:
            hit = self._adv[key] = _adv_at(self.p, t, window_days)
        return hit

    def sharing(self, p: _Prepared, policy: RiskPolicy) -> _Estimates:
        """The estimates of another replay with the same :meth:`keys` ``law`` key (``p`` and ``policy`` its own):
        the history, model choice, historical-simulation grids and fitted laws are this object's."""
        other = copy.copy(self)
        other.p = p
        other.fs = replace(policy.model, horizon_hours=p.term_k * float(hours_per_bar(p.data.freq)))
        other._at = {}
        return other

    @staticmethod
    def keys(p: _Prepared, policy: RiskPolicy, spec: BacktestSpec) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``(full, law)``: replays (of a prepared asset under a policy) with equal ``full`` keys make the same
        estimates; with equal ``law`` keys the same fitted laws and term structures (the fast engine: the
        same walk-forward, window, term reach and quantile grid; with the arch engine, ``law`` is ``full``)."""
        fs = replace(policy.model, horizon_hours=p.term_k * float(hours_per_bar(p.data.freq)))
        base = (p.data.symbol, p.data.fingerprint, p.window, p.term_k, p.t0, p.t1, repr(spec))
        full = (*base, p.h, repr(fs))
        if spec.engine is not Engine.FAST:
            return full, full
        law = (*base, max(p.term_k, p.h), quantile_levels(fs.confidence).tobytes(),
               repr(replace(fs, confidence=0.99)))
        return full, law

    def empirical(self, k: int) -> Sequence[HorizonQuantiles] | None:
        """Historical-simulation grids of the returns known at a decision (``k`` of them), recomputed only when
        the history has grown by more than 1% since the last computation (the quantiles of years of returns
        barely move in a week): the grids of the returns known at the last such decision at or before ``k``.
        A function of ``k`` alone (whatever order decisions are asked in, no look-ahead), remembered."""
        i = int(np.searchsorted(self._emp_anchors, k, side="right")) - 1
        a = int(self._emp_anchors[i]) if i >= 0 else int(k)
        if a not in self._emp_at:
            try:
                self._emp_at[a] = empirical_grids(self.p.r[:a], self._emp_bars)
            except ValueError:
                self._emp_at[a] = None
        return self._emp_at[a]

    def at(self, t: int) -> tuple[VolEstimate, str]:
        """The estimate at the close of bar ``t`` and the engine that made it (``'fast'``, ``'arch'`` or
        ``'arch (fast fit failed)'``, :data:`_FALLBACK`), remembered."""
        hit = self._at.get(t)
        if hit is None:
            hit = self._at[t] = self._at_new(t)
        return hit

    def _at_new(self, t: int) -> tuple[VolEstimate, str]:
        p = self.p
        k = int(p.nk[t])
        stressed = float(self.history.stressed[k])
        engine_used = self.engine.value
        if self.engine is Engine.FAST:
            model, d = (ModelName.EWMA, EWMA_DAY) if self.models == (ModelName.EWMA,) else self.day_of(k - self.k0)
            if d.ok:
                law = self._laws.get(t)
                if law is None:
                    law = self._laws[t] = fast_law(
                        model=model, dist=self.dist, spec=self.fs, freq=p.data.freq, h=p.h, term_k=p.term_k, day=d,
                        window_returns=p.r[k - p.window: k], empirical=self.empirical(k))
                est = law_estimate(law, spec=self.fs, h=p.h, as_of=p.ts[t], stressed=stressed,
                                   stress_window=self.stress_window, notes=self.notes)
                return est, engine_used
            engine_used = _FALLBACK
        return _arch_estimate(p, t, self.fs, stressed, self.stress_window, self.empirical(k)), engine_used


def _arch_estimate(p: _Prepared, t: int, spec: FitSpec, stressed: float, stress_window: int,
                   empirical: Sequence[HorizonQuantiles] | None = None) -> VolEstimate:
    """``fit_volatility`` on the ``W`` returns known at the close of bar ``t``, with the all-history stressed
    volatility and historical-simulation grids (``empirical``) the fast engine uses, so both engines read the
    same history beyond the window."""
    k = int(p.nk[t])
    first_ret_ts = p.r_ts[k - p.window]
    i0 = int(p.ts.searchsorted(first_ret_ts, side="left")) - 1
    frame = p.data.prices.iloc[max(i0, 0): t + 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = fit_volatility(frame, p.data.freq, spec)
    term = est.term
    if term is not None and empirical is not None and len(empirical) == len(term.bars):
        grids = {m: g for m, g in term.grids.items() if m != TermMethod.EMPIRICAL.value}
        grids[TermMethod.EMPIRICAL.value] = tuple(empirical)
        term = RiskTerm.from_grids(term.bar_hours, term.bars, term.variances, grids, term.law)
    return replace(est, stressed_vol=stressed, stress_window=stress_window, term=term)


def _es_ratio(est: VolEstimate, lending: bool) -> float:
    """ES / VaR of the price move in the worse (lending: lower) tail of the estimate's fitted risk."""
    r = est.fitted_risk
    tail = r.lower if lending or r.worse_tail is Tail.LOWER else r.upper
    if tail.var_price > 0 and math.isfinite(tail.es_price):
        return max(1.0, float(tail.es_price / tail.var_price))
    return 1.0



def _fast_runs(prepared: Sequence[_Prepared], policy: RiskPolicy, spec: BacktestSpec,
               backend: str) -> list[dict[ModelName, fastgarch.WalkForwardResult] | None]:
    """The fast engine for all assets at once (grouped by window), threads across assets: one
    walk-forward per model the policy needs (every candidate for ``auto``)."""
    out: list[dict[ModelName, fastgarch.WalkForwardResult] | None] = [None] * len(prepared)
    if spec.engine is not Engine.FAST or policy.model.model is ModelName.EWMA:
        return out
    dist, _ = fast_dist(policy.model)
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, p in enumerate(prepared):
        groups.setdefault((p.window, p.h, p.term_k), []).append(i)
    for (w, h, term_k), members in groups.items():
        models = fast_models(policy.model, term_k)
        rows = []
        for i in members:
            p = prepared[i]
            k0 = int(p.nk[p.t0])
            rows.append(np.ascontiguousarray(p.r[k0 - w: int(p.nk[p.t1])]))
        fb = "threads" if backend != "serial" else "serial"
        for model in models:
            res = fastgarch.walk_forward_many(
                rows, window=w, model=model, dist=dist, mean=policy.model.mean,
                refit_every=spec.refit_every, horizon_bars=h, confidence=policy.confidence, backend=fb)
            for i, r in zip(members, res, strict=True):
                runs = out[i]
                if runs is None:
                    runs = out[i] = {}
                runs[model] = r
    return out



def _fast_schedule(fast: Mapping[ModelName, fastgarch.WalkForwardResult] | None) -> str:
    return "" if not fast else next(iter(fast.values())).schedule


def _fast_status(fast: Mapping[ModelName, fastgarch.WalkForwardResult] | None) -> dict[str, int]:
    """Days per fast-engine status; per model (``'gjr WARM'``) when several models ran."""
    if not fast:
        return {}
    if len(fast) == 1:
        return next(iter(fast.values())).status_counts()
    return {f"{m.value} {k}": v for m, res in fast.items() for k, v in res.status_counts().items()}


def _model_label(fs: FitSpec, spec: BacktestSpec, term_k: int) -> str:
    """The report's model label; ``term_k`` is the bars of the term structure the proposals read (EGARCH with
    fat tails is left out beyond one bar, as the fast runs do)."""
    if spec.engine is Engine.ARCH:
        return f"arch fit_volatility (policy model {fs.model.value}-{fs.dist.value}, {fs.mean.value} mean)"
    models = fast_models(fs, term_k)
    dist, _ = fast_dist(fs)
    if fs.model is ModelName.AUTO:
        names = ", ".join(m.value for m in models)
        label = f"auto-{dist.value} (lowest BIC of {names} at each refit; {fs.mean.value} mean), fast engine"
    else:
        model = models[0]
        ewma_dist = "normal" if fs.dist is DistName.NORMAL else "t"  # EWMA keeps a fitted t unless normal
        label = (f"{model.value}-{dist.value if model is not ModelName.EWMA else ewma_dist} ({fs.mean.value} mean), "
                 "fast engine")
    if fs.dist is not dist:
        label += f"; policy model {fs.model.value}-{fs.dist.value}"
    return label

