"""Walk-forward backtests of margin and lending parameters: coverage, capital, liquidations, stress.

Pure: numpy/pandas/scipy on price frames, policies and parameter sets; no store, no I/O (the service
loads the prices and stores the report, see :func:`riskparams.service.backtest`). Built on
:mod:`riskparams.coverage` (tests), :mod:`riskparams.liquidation` (simulation, stress windows, shocks),
:mod:`riskparams.proposals` (the policy math) and :mod:`riskparams.fastgarch` (daily forecasts).

Units: moves, margins, rates, costs and penalties are fractions of price or notional (0.03 = 3 %);
volatilities are per bar unless a name says annualised; notionals, liquidated notional, bad debt and
insurance-fund balances are in quote currency; times are UTC bar **open** times (a bar's close is at
the end of its bar); horizons and windows are in bars of the series unless a name says days.

What is replayed
----------------
Parameter sets, all evaluated on the same bars, the same adverse moves and the same population:

* ``policy`` -- the **walk-forward replay of the policy**, as governance would run it: a proposal is
  made on the first backtest bar and then every ``cadence_days`` days (the first bar at or after the
  previous proposal's time plus the cadence), with :func:`~riskparams.proposals.propose_tiers` or
  :func:`~riskparams.proposals.propose_lending` on a volatility estimate that uses **only bars up to
  the close of that bar**. Guardrails and anti-procyclicality apply as in a live proposal, relative
  to the parameters in force (the previous proposal; for the first one the current parameters when
  given, else none). Parameters therefore change only on cadence bars.
* ``current`` -- the current parameters (:mod:`riskparams.params_io`), fixed over the period.
* any ad-hoc set from a CSV/JSON file in the same schema, or the parameters of a stored proposal
  (:class:`FixedParameters`), fixed over the period.

Timing (no look-ahead): a proposal computed at the close of bar ``t`` is the margin "set at ``t``":
it is the margin in force for the horizon starting after that close (observation ``t``) and, in the
liquidation simulation, it governs monitoring from bar ``t + 1`` (a position opened at the close of
``t`` is admitted under the schedule in force during bar ``t``; the first proposal is in force from
the first bar).

Execution lag (``execution_lag_days``, default 0): governance needs time (vote plus timelock), so a
decision taken at the close of bar ``t`` is "set at" the first bar ``e`` at or after ``ts[t] + lag``
instead of at ``t`` (and governs monitoring from ``e + 1``). The decisions themselves do not change
with the lag: each is made on bars up to its own and its guardrails see the previous decision (what
governance last approved, pending or in force). Until the first decision is in force the current
parameters are (a version that claims nothing); without current parameters the first decision is in
force from the first bar. A decision superseded before it took effect (a gap in the data) never does;
one that would take effect after the period is dropped (its record's ``effective`` is None).

Warm-up and steady state (:mod:`~riskparams.backtest.phases`): the replay starts from the current
parameters and climbs to the model's target by at most the step limit per proposal; that ramp is
reported apart. The warm-up ends when the first decision at the target (no ``max_change`` bound) is
in force, or after ``warmup_max_days``; each phase has its coverage (exceptions, expected, Kupiec,
Christoffersen independence on the non-overlapping sample), average margin and peak-to-trough,
changes (one governance action per decision date that changed any parameter), parameter values
changed, actions per year, and the changes there would have been with a dead-band of 0 on the same
path (each decision re-proposed with ``dead_band = 0`` against the same parameters in force).

Forecasts: the fast engine and its approximations
--------------------------------------------------
``engine='fast'`` (default). :func:`riskparams.fastgarch.walk_forward_many` re-estimates the
GARCH-family model on a **rolling window of ``W`` returns** every bar (``refit_every=1``; on hourly
data ``refit_every=24`` refits daily and filters hourly, labelled in the report), forecasts for bar
``k`` using returns ``k - W .. k - 1`` only. Choices:

* model: the policy's ``model`` when it is ``garch``, ``gjr`` or ``egarch``. For ``auto`` every
  candidate is walked forward and each forecast uses, as :func:`fit_volatility` does, the lowest BIC
  among the candidates whose fit is valid and below the persistence guard (EGARCH is left out when
  its multi-bar variance is infinite: t innovations and a horizon above one bar); this costs the sum
  of the candidates' walk-forwards (about 4x GARCH alone). ``ewma`` is filtered directly. The report
  labels the model (``model``), and each cadence record names the model chosen that day.
* distribution: Student-t or normal as the policy says; **skewed t is replaced by t**.
* mean: the policy's (zero or constant).
* the window ``W``: ``window`` if given; else, with a ``start`` date, ``min(1000, returns known at
  start)``; else 1000 when the series has at least 1000 + 250 days of returns beyond, otherwise
  ``min_history``; never below ``max(min_history, 50)``. Without ``start`` the backtest begins on the
  first bar with ``W`` known returns. ``W`` depends on the start date, not on the end of the data, so
  truncating the history never changes a past margin (when the no-start rule's threshold is not
  crossed: give ``start`` or ``window`` for a reproducible comparison across data vintages).

On each cadence bar the :class:`~riskparams.volatility.VolEstimate` the proposal math needs is built
by the volatility layer from the fast engine's state that day (:func:`riskparams.volatility_fast.law_estimate` of :func:`~riskparams.volatility_fast.fast_law`,
which documents it): ``params`` (arch's percent convention), ``next_vol`` (the one-step forecast),
``horizon_vol = sqrt(V_h)`` with ``V_h`` the **sum of the 1..h-step variance forecasts**, a term structure
whose fitted law is the **fitted innovation law (unit-variance t(nu) or normal) scaled to each horizon's
volatility** around ``k mu`` (exact for one bar; for ``h > 1`` an approximation: a sum of GARCH-t returns
is not t, and arch's own path simulates), the fitted VaR/ES from the same law, ``long_run_vol`` the
model's unconditional volatility, ``stressed_vol`` the worst rolling-window volatility of **all history
up to that bar** (window ``model.stress_window`` or 250 days of bars) and, for the long-run floor, the
sample volatility of all history up to that bar (:class:`riskparams.volatility_fast.ExpandingVol`, as
:func:`riskparams.service.propose`, which fits all history). The headline risk is always the fitted law
(``risk_method`` 'fhs' / 'max' noted) and there are no residual diagnostics. The policy's persistence
guard is applied: a fit at or above :func:`~riskparams.volatility.persistence_limit` falls back to EWMA
that day, as in arch's path. A day on which every compiled fit failed is fitted by arch
(``fit_volatility``) instead (counted).

``engine='arch'``: on each cadence bar :func:`riskparams.volatility.fit_volatility` is called with
the policy's exact :class:`~riskparams.volatility.FitSpec` on the same ``W`` returns (slow; exact,
including ``auto`` and FHS); its stressed volatility is replaced by the all-history one so the two
engines see the same inputs.

Exceptions and overlapping horizons
-----------------------------------
Perpetuals: the adverse excursion over the next ``h`` bars from highs and lows
(:func:`riskparams.coverage.adverse_moves`: a long loses ``1 - min(low) / close``, a short
``max(high) / close - 1``) against the **maintenance margin fraction of tier 1** in force at its start
(tier 1 is the highest-leverage bracket, the one most positions sit in; each tier's exceptions, at its
floor notional, are reported beside it). The excursion is path-wise, so it is at least the
close-to-close move the model forecasts: a model calibrated to close-to-close returns shows more
excursion exceptions than ``1 - q`` (the liquidation risk the margin must cover is the path).
The headline side (``side='worse'``, default) is the side (long or short) with more exceptions over
the whole sample (an evaluation choice made after the fact; taking the larger of two counts makes the
"too many" rejection up to twice as likely as the nominal level): each side is a population of
positions whose margin promises a rate of at most ``1 - q``; ``both`` (an exception when either side
is beyond the margin) has an expected rate of up to ``2 (1 - q)``. Per-side counts and Kupiec p-values
are reported beside the headline, and the stress-window counts and exception dates use either side, so
a crash on the other side is never hidden. Lending: the collateral drop over the horizon (long side)
against the room the threshold and bonus leave, ``1 - LT (1 + LB)``. With ``measure = 'es'`` the
covered move is an expected shortfall at ``q``, beyond the ``q``-quantile by design: fewer exceptions
than ``1 - q`` are then expected, and Kupiec's two-sided test reads them as "too few" (over-conservative,
the capital cost beside it says at what price).

Observations are every bar whose horizon is complete inside the period. With ``h > 1`` consecutive
horizons overlap; :func:`~riskparams.coverage.coverage_report` handles it: the headline statistics
(``n``, exceptions, Kupiec, Christoffersen, traffic light, and the ES backtest here) use the
non-overlapping subsample of every ``h``-th observation from the first (offset 0), the spread over all
``h`` offsets is reported beside it, and the all-observation statistics are labelled dependent.
Per calendar year and per stress window: counts on all observations, tests on the offset-0 subsample.

ES backtest: Acerbi & Szekely's ``Z2`` (:func:`riskparams.coverage.es_backtest`) of the margin read
as the VaR at ``q`` with the expected shortfall the model implies for that VaR, ``ES_t = margin_t x``
the ES/VaR ratio of the horizon distribution of the estimate in force (worse tail), on the offset-0
subsample; losses are the adverse moves.

Capital and procyclicality
--------------------------
Time averages over the period of the tier-1 MMF (lending: the room ``1 - LT (1 + LB)``), IMF and max
leverage (lending: LTV, LT, bonus and ``1 / (1 - LTV)``); the peak-to-trough ratio ``max / min`` of the
margin; the largest 1-, 5- and 30-day increase of the margin, relative (``m_t / m_{t-n} - 1``, the
headline ``max_5d_increase``) and absolute (fraction points); the number of parameter changes (cadence
bars on which any parameter changed).

Liquidations, stress windows and shocks
---------------------------------------
One population (:class:`~riskparams.liquidation.PopulationSpec`, default :func:`default_population`)
is drawn per asset on the bars of the period and run through every parameter set
(:func:`~riskparams.liquidation.simulate_liquidations`, close-out at the worst price over the ``h``-bar
margin period of risk). Perpetuals: the close-out cost is the policy's square-root law
``half_spread + impact_k sigma_daily sqrt(N / ADV)`` with ``sigma_daily`` and ``ADV`` **as of the
first backtest bar** (the same for every set, and not revised with later data); penalties go to the
insurance fund. Lending positions are mapped onto the same machinery: a borrower with collateral
``C`` and debt ``D = LTV C`` is a long of notional ``C`` with initial margin ``1 - LTV`` and
maintenance ``1 - LT`` (liquidatable when ``D > LT C``); the liquidation bonus is a close-out cost of
``LB x LT`` of the collateral (paid to liquidators, not to the fund); bad debt is the debt the
collateral no longer covers. The population depends on the period's length, so truncating the history
redraws it (the parameters themselves never use later data). Stress windows: the ``n_episodes``
deepest drawdown episodes of the period (:func:`~riskparams.liquidation.drawdown_episodes`) plus the
user's date ranges, with coverage, liquidations, bad debt and the margin's rise inside each.
Instantaneous shocks (default -30 %, -50 %, and +30 %, +50 % for shorts on perps) give the bad debt per
tier of the parameters in force at the end (:func:`~riskparams.liquidation.shock_bad_debt`).

A parameter set that became unmarginable (the model's first tier needs an MMF of 100 %) has margin
1.0 in the exception series; in the liquidation simulation the previous tiers stay in force
(open positions are still margined; blocking new positions is not modelled).

Modules
-------
One concern each; this package re-exports the public names.

* :mod:`~riskparams.backtest.spec` -- :class:`BacktestSpec`, its choices (:class:`Engine`, :class:`Side`)
  and :func:`default_population`;
* :mod:`~riskparams.backtest.params` -- :class:`FixedParameters` (:func:`fixed_from_current`,
  :func:`fixed_from_proposal`) and the per-version tables of both profiles;
* :mod:`~riskparams.backtest.results` -- :class:`AssetData` (the input) and the results from
  :class:`CadenceRecord` to :class:`BacktestReport`, with their serialisation;
* :mod:`~riskparams.backtest.prepare` -- per-asset preparation: window, period, cadence bars, horizon,
  causal ADV;
* :mod:`~riskparams.backtest.estimates` -- the walk-forward of all assets and the estimate on each cadence
  bar (the volatility math is :mod:`riskparams.volatility_fast` and :mod:`riskparams.volatility`);
* :mod:`~riskparams.backtest.replay` -- the policy replay and its execution lag;
* :mod:`~riskparams.backtest.phases` -- warm-up and steady state of the policy replay;
* :mod:`~riskparams.backtest.evaluate` -- one parameter set on one asset: exceptions, tests, capital,
  liquidations, shocks, stress windows;
* :mod:`~riskparams.backtest.run` -- :func:`run_backtest`, :func:`backtest_asset`: validation, parallel
  evaluation, progress.
"""

from __future__ import annotations

from riskparams.backtest.params import FixedParameters, fixed_from_current, fixed_from_proposal
from riskparams.backtest.results import (
    REPORT_FORMAT,
    AssetBacktest,
    AssetData,
    BacktestReport,
    CadenceRecord,
    CapitalStats,
    ClaimedCoverage,
    PhaseSplit,
    PhaseStats,
    SetBacktest,
    TierCoverage,
    WindowOutcome,
)
from riskparams.backtest.run import ProgressFn, backtest_asset, run_backtest
from riskparams.backtest.spec import DEFAULT_WINDOW, BacktestSpec, Engine, Side, default_population
from riskparams.backtest_content import BacktestResultRow, StoredBacktest

__all__ = [
    "DEFAULT_WINDOW",
    "REPORT_FORMAT",
    "AssetBacktest",
    "AssetData",
    "BacktestReport",
    "BacktestResultRow",
    "BacktestSpec",
    "CapitalStats",
    "CadenceRecord",
    "ClaimedCoverage",
    "Engine",
    "FixedParameters",
    "PhaseSplit",
    "PhaseStats",
    "ProgressFn",
    "SetBacktest",
    "Side",
    "StoredBacktest",
    "TierCoverage",
    "WindowOutcome",
    "backtest_asset",
    "default_population",
    "fixed_from_current",
    "fixed_from_proposal",
    "run_backtest",
]
