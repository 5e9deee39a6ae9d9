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
from the fast engine's state that day: ``params`` (arch's percent convention), ``next_vol`` (the
one-step forecast), ``horizon_vol = sqrt(V_h)`` with ``V_h`` the **sum of the 1..h-step variance
forecasts**, ``horizon_quantiles`` by :meth:`~riskparams.volatility.HorizonQuantiles.from_ppf` of the
**fitted innovation law (unit-variance t(nu) or normal) scaled to the horizon volatility** around
``h mu`` (exact for one bar; for ``h > 1`` an approximation: a sum of GARCH-t returns is not t, and
arch's own path simulates), the fitted VaR/ES from the same law, ``long_run_vol`` the model's
unconditional volatility, ``stressed_vol`` the worst rolling-window volatility of **all history up to
that bar** (window ``model.stress_window`` or 250 days of bars) and, for the long-run floor, the
sample volatility of all history up to that bar (as :func:`riskparams.service.propose`, which fits all
history). Not available in the fast engine: filtered historical simulation (``risk_method`` 'fhs' /
'max' use the fitted law; noted) and residual diagnostics. The policy's
persistence guard is applied: a fit at or above
:func:`~riskparams.volatility.persistence_limit` falls back to EWMA that day, as in arch's path. A
day on which every compiled fit failed is fitted by arch (``fit_volatility``) instead (counted).

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
"""

from __future__ import annotations

import math
import multiprocessing
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special, stats

from riskparams import fastgarch
from riskparams.config import RiskPolicy, policy_with
from riskparams.coverage import CoverageReport, ESBacktestResult, coverage_report, es_backtest, kupiec_pof
from riskparams.domain import (
    CurrentLending,
    CurrentParams,
    CurrentPerp,
    CurrentPerpTier,
    LendingAssetProposal,
    PerpAssetProposal,
    content_id,
)
from riskparams.exceptions import HistoryError, PolicyError, RiskParamsError
from riskparams.liquidation import (
    DiscreteLeverage,
    LiquidationResult,
    LognormalNotional,
    MarginSchedule,
    PopulationSpec,
    ScheduleVersion,
    StressWindow,
    Tier,
    drawdown_episodes,
    generate_population,
    shock_bad_debt,
    simulate_liquidations,
)
from riskparams.measures import (
    HorizonRisk,
    Tail,
    TailRisk,
    garch_horizon_variance,
    impact_cost,
    normal_var_es,
    student_t_var_es,
)
from riskparams.proposals import (
    maintenance_deductions,
    margin_period,
    propose_lending,
    propose_tiers,
    term_hours,
)
from riskparams.returns import (
    horizon_to_bars,
    hours_per_bar,
    iso_utc,
    returns_with_report,
    to_utc,
    validate_prices,
)
from riskparams.term import RiskTerm, TermMethod, empirical_grids, term_bars
from riskparams.volatility import (
    DistName,
    FitSpec,
    HorizonQuantiles,
    MeanName,
    ModelName,
    RiskMethod,
    VolEstimate,
    egarch_long_run_vol,
    ewma_variance,
    fit_t_nu,
    fit_volatility,
    persistence_limit,
)

__all__ = [
    "DEFAULT_WINDOW",
    "REPORT_FORMAT",
    "AssetBacktest",
    "AssetData",
    "BacktestReport",
    "BacktestSpec",
    "CapitalStats",
    "CadenceRecord",
    "ClaimedCoverage",
    "Engine",
    "FixedParameters",
    "ProgressFn",
    "SetBacktest",
    "Side",
    "TierCoverage",
    "WindowOutcome",
    "backtest_asset",
    "default_population",
    "fixed_from_current",
    "fixed_from_proposal",
    "run_backtest",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ProgressFn = Callable[[int, int, str], None]
"""``progress(done, total, message)``: called as work completes (from worker threads too)."""

REPORT_FORMAT = "riskparams-backtest-v1"
"""Format tag inside every backtest report's content."""

DEFAULT_WINDOW = 1000
"""Default rolling estimation window, bars."""
MIN_TEST_DAYS = 250
"""Without ``start`` or ``window``: the window is :data:`DEFAULT_WINDOW` only when this many days of
returns follow it; otherwise ``min_history``."""
POLICY_SET = "policy"
"""Name of the walk-forward replay of the policy."""
CURRENT_SET = "current"
"""Name of the current parameters."""
_FROZEN_MARGIN = 1.0
_MAX_MMF = 0.999  # lending LT = 0 maps to a maintenance fraction below 1 (Tier needs mmf < 1)


# ---------------------------------------------------------------------------------------------
# choices and the specification
# ---------------------------------------------------------------------------------------------


class Engine(StrEnum):
    """Forecast engine: the compiled daily walk-forward, or arch fits on cadence bars."""

    FAST = "fast"
    ARCH = "arch"


class Side(StrEnum):
    """Perpetual exceptions: the worse side (default), either side, longs or shorts."""

    WORSE = "worse"
    BOTH = "both"
    LONG = "long"
    SHORT = "short"


def _enum(enum: type[StrEnum], name: str, value: object) -> Any:
    try:
        return enum(str(value))
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)  # type: ignore[attr-defined]
        raise PolicyError(f"{name} must be one of {allowed}, got {value!r}") from None


def _int_ge(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if (isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < lo
            or (hi is not None and int(value) > hi)):
        top = "" if hi is None else f" and <= {hi:,}"
        raise PolicyError(f"{name} must be an integer >= {lo}{top}, got {value!r}")
    return int(value)


MAX_BARS = 1_000_000
"""Largest estimation window and refit interval in bars: 114 years of hourly bars."""
MAX_CADENCE_DAYS = 3650.0
"""Longest time between the policy replay's proposals: ten years."""
WINDOW_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,39}$")
"""Names of user stress windows: like symbols (plus spaces, less ``/``), so none carries markup or a formula."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestSpec:
    """How to run a backtest (frozen, validated; every field is recorded in the report).

    Parameters
    ----------
    profile : {'perp', 'lending'}
        What the parameters are.
    start, end : str, optional
        ISO dates/times (UTC) of the first and last bar of the backtest period; default: the first
        bar with ``W`` known returns, the last stored bar. Bars after ``end`` are never read.
    cadence_days : float, default 7
        Days between proposals of the policy replay (> 0; 1 with daily bars: every bar).
    engine : {'fast', 'arch'}
        Forecast engine (module docstring).
    window : int, optional
        Rolling estimation window in bars (>= 50); default: see the module docstring.
    refit_every : int, default 1
        Fast engine: re-estimate every ``refit_every`` bars and filter in between (24 on hourly
        data: daily refits, hourly filtering; a different, labelled model).
    side : {'worse', 'both', 'long', 'short'}
        Perpetual exceptions (module docstring); lending always uses the long side.
    windows : tuple of (name, start, end)
        User stress windows (ISO dates, inclusive).
    n_episodes : int, default 5
        Drawdown episodes found automatically.
    shocks : tuple of float, optional
        Instantaneous price jumps (fractions, > -1); default (-0.3, -0.5, 0.3, 0.5) for perps and
        (-0.3, -0.5) for lending.
    population : PopulationSpec, optional
        Synthetic positions; default :func:`default_population` for the profile and bar frequency.
    insurance_fund_start : float, default 0
        Insurance-fund balance before the first bar (quote currency).
    es_sims : int, default 2000
        Monte-Carlo draws of the ES backtest's p-value (0: none).
    """

    profile: str = "perp"
    start: str | None = None
    end: str | None = None
    cadence_days: float = 7.0
    engine: Engine = Engine.FAST
    window: int | None = None
    refit_every: int = 1
    side: Side = Side.WORSE
    windows: tuple[tuple[str, str, str], ...] = ()
    n_episodes: int = 5
    shocks: tuple[float, ...] | None = None
    population: PopulationSpec | None = None
    insurance_fund_start: float = 0.0
    es_sims: int = 2000

    def __post_init__(self) -> None:
        if self.profile not in ("perp", "lending"):
            raise PolicyError(f"profile must be 'perp' or 'lending', got {self.profile!r}")
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, iso_utc(to_utc(v, name)))
        if self.start is not None and self.end is not None and self.end < self.start:
            raise PolicyError(f"end ({self.end}) is before start ({self.start})")
        cd = self.cadence_days
        if (isinstance(cd, bool) or not isinstance(cd, int | float) or not math.isfinite(cd)
                or not 0 < cd <= MAX_CADENCE_DAYS):
            raise PolicyError(f"cadence_days must be a number > 0 and <= {MAX_CADENCE_DAYS:g} (ten years), got {cd!r}")
        object.__setattr__(self, "cadence_days", float(cd))
        object.__setattr__(self, "engine", _enum(Engine, "engine", self.engine))
        object.__setattr__(self, "side", _enum(Side, "side", self.side))
        if self.window is not None:
            object.__setattr__(self, "window", _int_ge("window", self.window, 50, MAX_BARS))
        object.__setattr__(self, "refit_every", _int_ge("refit_every", self.refit_every, 1, MAX_BARS))
        object.__setattr__(self, "n_episodes", _int_ge("n_episodes", self.n_episodes, 0))
        object.__setattr__(self, "es_sims", _int_ge("es_sims", self.es_sims, 0))
        wins = []
        for w in self.windows:
            if not isinstance(w, tuple | list) or len(w) != 3:
                raise PolicyError(f"a stress window must be (name, start, end), got {w!r}")
            name, s, e = w
            if not isinstance(name, str) or not WINDOW_NAME_PATTERN.match(name):  # it is shown in every export
                raise PolicyError(f"stress window name {name!r} is not valid: use 1-40 letters, digits, spaces and "
                                  ". _ : - starting with a letter or digit")
            s_, e_ = to_utc(s, "window start"), to_utc(e, "window end")
            if e_ < s_:
                raise PolicyError(f"stress window {name!r} ends before it starts")
            wins.append((str(name), iso_utc(s_), iso_utc(e_)))
        object.__setattr__(self, "windows", tuple(wins))
        if self.shocks is not None:
            sh = tuple(float(x) for x in self.shocks)
            if not sh or any(not math.isfinite(x) or x <= -1.0 or x == 0.0 for x in sh):
                raise PolicyError(f"shocks must be non-zero fractions > -1, got {list(self.shocks)}")
            object.__setattr__(self, "shocks", sh)
        if self.population is not None and not isinstance(self.population, PopulationSpec):
            raise PolicyError("population must be a riskparams.liquidation.PopulationSpec")
        f = self.insurance_fund_start
        if isinstance(f, bool) or not isinstance(f, int | float) or not math.isfinite(f):
            raise PolicyError(f"insurance_fund_start must be a finite number, got {f!r}")
        object.__setattr__(self, "insurance_fund_start", float(f))

    @property
    def shock_list(self) -> tuple[float, ...]:
        """The shocks used (the profile's default when not given)."""
        if self.shocks is not None:
            return self.shocks
        return (-0.3, -0.5, 0.3, 0.5) if self.profile == "perp" else (-0.3, -0.5)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``population`` as :meth:`PopulationSpec.to_dict`, None for the default)."""
        return {
            "profile": self.profile, "start": self.start, "end": self.end, "cadence_days": self.cadence_days,
            "engine": self.engine.value, "window": self.window, "refit_every": self.refit_every,
            "side": self.side.value, "windows": [list(w) for w in self.windows], "n_episodes": self.n_episodes,
            "shocks": list(self.shock_list), "population": None if self.population is None else self.population.to_dict(),
            "insurance_fund_start": self.insurance_fund_start, "es_sims": self.es_sims,
        }


def default_population(profile: str, freq: str, *, seed: int = 0) -> PopulationSpec:
    """The default synthetic population of a profile at a bar frequency.

    Perpetuals: 5,000 positions, half long, desired leverage 2, 3, 5, 10, 20 or 50x (capped by each
    set's max leverage), notional lognormal with median 50,000 and log-sd 2 (about 1 in 9 above 1m:
    the larger tiers are exercised), held 1 to 30 days. Lending: 5,000 borrowers (long collateral),
    desired leverage 1.25 to 5x (capped at ``1 / (1 - LTV)``), collateral median 100,000, held 1 to
    60 days. Entry bars uniform over the period.
    """
    bpd = max(1, 24 // hours_per_bar(freq))
    if profile == "perp":
        return PopulationSpec(
            count=5000, leverage=DiscreteLeverage(values=(2.0, 3.0, 5.0, 10.0, 20.0, 50.0)), long_fraction=0.5,
            notional=LognormalNotional(median=50_000.0, sigma=2.0, minimum=100.0), holding_bars=(bpd, 30 * bpd),
            seed=seed,
        )
    return PopulationSpec(
        count=5000, leverage=DiscreteLeverage(values=(1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)), long_fraction=1.0,
        notional=LognormalNotional(median=100_000.0, sigma=2.0, minimum=100.0), holding_bars=(bpd, 60 * bpd),
        seed=seed,
    )


# ---------------------------------------------------------------------------------------------
# parameter sets
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedParameters:
    """A fixed parameter set: one table per asset, in force over the whole period.

    Attributes
    ----------
    name : str
        Label in the report (``current``, a file stem, ``proposal-<id>``).
    source : str
        Where it came from (file name or proposal id).
    profile : {'perp', 'lending'}
    assets : Mapping[str, CurrentPerp | CurrentLending]
        By upper-case symbol.
    """

    name: str
    source: str
    profile: str
    assets: Mapping[str, CurrentPerp | CurrentLending]


def fixed_from_current(current: CurrentParams, name: str = CURRENT_SET) -> FixedParameters:
    """A fixed set from parameters read by :func:`riskparams.params_io.load_current`."""
    return FixedParameters(name=name, source=current.source, profile=current.profile, assets=dict(current.assets))


def fixed_from_proposal(content: Mapping[str, Any], name: str, source: str) -> FixedParameters:
    """A fixed set from a stored proposal's content (its proposed tiers or lending parameters).

    Unmarginable assets (no tiers) are left out.
    """
    profile = str(content["profile"])
    assets: dict[str, CurrentPerp | CurrentLending] = {}
    for a in content.get("assets", []):
        sym = str(a["symbol"]).upper()
        if profile == "perp":
            if not a.get("tiers"):
                continue
            assets[sym] = CurrentPerp(symbol=sym, tiers=tuple(
                CurrentPerpTier(notional_floor=float(t["notional_floor"]),
                                notional_cap=None if t["notional_cap"] is None else float(t["notional_cap"]),
                                max_leverage=float(t["max_leverage"]), maintenance_rate=float(t["mmf"]),
                                liquidation_penalty=None if t.get("liquidation_penalty") is None
                                else float(t["liquidation_penalty"]))
                for t in a["tiers"]))
        else:
            assets[sym] = CurrentLending(symbol=sym, ltv=float(a["ltv"]),
                                         liquidation_threshold=float(a["liquidation_threshold"]),
                                         liquidation_bonus=float(a["liquidation_bonus"]))
    return FixedParameters(name=name, source=source, profile=profile, assets=assets)


@dataclass(frozen=True, slots=True)
class _PerpSet:
    """One perpetual tier table in force (fractions; notionals in quote currency)."""

    floors: tuple[float, ...]
    caps: tuple[float | None, ...]
    mmf: tuple[float, ...]
    max_leverage: tuple[float, ...]
    penalty: tuple[float, ...]
    frozen: bool = False

    @classmethod
    def from_current(cls, cur: CurrentPerp) -> _PerpSet:
        return cls(
            floors=tuple(float(t.notional_floor) for t in cur.tiers),
            caps=tuple(None if t.notional_cap is None else float(t.notional_cap) for t in cur.tiers),
            mmf=tuple(float(t.maintenance_rate) for t in cur.tiers),
            max_leverage=tuple(float(t.max_leverage) for t in cur.tiers),
            penalty=tuple(float(t.liquidation_penalty or 0.0) for t in cur.tiers),
        )

    @classmethod
    def from_proposal(cls, p: PerpAssetProposal) -> _PerpSet:
        return cls(
            floors=tuple(t.notional_floor for t in p.tiers), caps=tuple(t.notional_cap for t in p.tiers),
            mmf=tuple(t.mmf for t in p.tiers), max_leverage=tuple(t.max_leverage for t in p.tiers),
            penalty=tuple(t.liquidation_penalty for t in p.tiers),
        )

    def frozen_copy(self) -> _PerpSet:
        return replace(self, frozen=True)

    def values(self) -> tuple[Any, ...]:
        return (self.floors, self.caps, self.mmf, self.max_leverage, self.penalty, self.frozen)

    def mmf_at(self, notional: float) -> float:
        """MMF of a position of ``notional`` (1.0 beyond a finite last cap, or when frozen)."""
        if self.frozen:
            return _FROZEN_MARGIN
        last = self.caps[-1]
        if last is not None and notional >= last:
            return _FROZEN_MARGIN
        k = int(np.searchsorted(np.asarray(self.floors), notional, side="right")) - 1
        return self.mmf[max(k, 0)]

    def to_current(self, symbol: str) -> CurrentPerp:
        return CurrentPerp(symbol=symbol, tiers=tuple(
            CurrentPerpTier(notional_floor=f, notional_cap=c, max_leverage=lv, maintenance_rate=m,
                            liquidation_penalty=p)
            for f, c, m, lv, p in zip(self.floors, self.caps, self.mmf, self.max_leverage, self.penalty, strict=True)))

    def tiers(self) -> tuple[Tier, ...]:
        ded = maintenance_deductions(self.floors, self.mmf)
        return tuple(
            Tier(notional_floor=f, notional_cap=c, mmf=m, penalty=min(p, m * 0.999), imf=1.0 / lv,
                 maintenance_deduction=d)
            for f, c, m, lv, p, d in zip(self.floors, self.caps, self.mmf, self.max_leverage, self.penalty, ded,
                                         strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {"frozen": self.frozen, "tiers": [
            {"notional_floor": f, "notional_cap": c, "mmf": m, "max_leverage": lv, "imf": 1.0 / lv,
             "liquidation_penalty": p}
            for f, c, m, lv, p in zip(self.floors, self.caps, self.mmf, self.max_leverage, self.penalty, strict=True)]}


@dataclass(frozen=True, slots=True)
class _LendSet:
    """One lending parameter triple in force (fractions)."""

    ltv: float
    lt: float
    lb: float

    @classmethod
    def from_current(cls, cur: CurrentLending) -> _LendSet:
        return cls(float(cur.ltv), float(cur.liquidation_threshold), float(cur.liquidation_bonus))

    @property
    def room(self) -> float:
        """``1 - LT (1 + LB)``: the drop the threshold and bonus leave room for."""
        return 1.0 - self.lt * (1.0 + self.lb)

    @property
    def frozen(self) -> bool:
        return False

    def values(self) -> tuple[Any, ...]:
        return (self.ltv, self.lt, self.lb)

    def to_current(self, symbol: str) -> CurrentLending:
        return CurrentLending(symbol=symbol, ltv=self.ltv, liquidation_threshold=self.lt, liquidation_bonus=self.lb)

    def tiers(self) -> tuple[Tier, ...]:
        mmf = min(1.0 - self.lt, _MAX_MMF)
        imf = max(1.0 - self.ltv, mmf + 1e-6)
        return (Tier(notional_floor=0.0, mmf=mmf, imf=min(imf, 1.0), penalty=0.0,
                     close_out_cost=min(self.lb * self.lt, 0.5)),)

    def to_dict(self) -> dict[str, Any]:
        return {"ltv": self.ltv, "liquidation_threshold": self.lt, "liquidation_bonus": self.lb, "room": self.room}


_Params = _PerpSet | _LendSet


# ---------------------------------------------------------------------------------------------
# inputs and results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AssetData:
    """One asset's price series (the engine's input).

    Attributes
    ----------
    symbol : str
        Upper-case symbol, matched against parameter sets.
    freq : {'1h', '4h', '1d'}
    prices : pandas.DataFrame
        OHLCV bars, UTC ``DatetimeIndex`` (bar open times), shape (n_bars, 5).
    source, kind : str
        Provenance labels.
    synthetic : bool
        Demo data.
    fingerprint : str
        SHA-256 of the rows (provenance), optional.
    """

    symbol: str
    freq: str
    prices: pd.DataFrame
    source: str = ""
    kind: str = ""
    synthetic: bool = False
    fingerprint: str = ""


def _jf(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class CadenceRecord:
    """One proposal of the policy replay.

    Attributes
    ----------
    ts : pandas.Timestamp
        The bar whose close the proposal used (data up to and including it).
    params : dict
        The parameters proposed (perp: ``frozen`` and ``tiers``; lending: LTV, LT, bonus, room).
    changed : bool
        Differs from the parameters in force before.
    model : str
        Model used that day, e.g. ``'garch-t'`` (``'ewma-normal'`` after a fallback).
    engine : str
        ``'fast'``, ``'arch'`` or ``'arch (fast fit failed)'``.
    next_vol_annualised, covered_move : float
        Forecast volatility and the covered move (fraction) of the proposal.
    in_stress : bool
    binding : tuple of str
        Anti-procyclicality tools that bound.
    guardrails : tuple of str
        ``'<parameter>[ tier k]: <bound>'`` for every line a guardrail or invariant changed.
    status : str
        ``'ok'`` or ``'unmarginable'``.
    """

    ts: pd.Timestamp
    params: dict[str, Any]
    changed: bool
    model: str
    engine: str
    next_vol_annualised: float
    covered_move: float
    in_stress: bool
    binding: tuple[str, ...]
    guardrails: tuple[str, ...]
    status: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"ts": iso_utc(self.ts), "params": self.params, "changed": self.changed, "model": self.model,
                "engine": self.engine, "next_vol_annualised": _jf(self.next_vol_annualised),
                "covered_move": _jf(self.covered_move), "in_stress": self.in_stress, "binding": list(self.binding),
                "guardrails": list(self.guardrails), "status": self.status}


@dataclass(frozen=True, slots=True, kw_only=True)
class CapitalStats:
    """Capital cost and procyclicality of a margin path (see the module docstring).

    ``avg_margin`` is the tier-1 MMF (lending: the room ``1 - LT (1 + LB)``); ``avg_imf`` and
    ``avg_max_leverage`` tier 1 (lending: ``1 - LTV`` and ``1 / (1 - LTV)``); ``max_increase`` maps
    ``'1d'``, ``'5d'``, ``'30d'`` to the largest relative increase ``m_t / m_{t-n} - 1`` and
    ``max_increase_abs`` to the largest absolute one (fraction points); ``changes`` counts parameter
    changes. Lending adds ``avg_ltv``, ``avg_lt``, ``avg_lb``.
    """

    avg_margin: float
    min_margin: float
    max_margin: float
    peak_to_trough: float
    avg_imf: float
    avg_max_leverage: float
    max_increase: Mapping[str, float]
    max_increase_abs: Mapping[str, float]
    changes: int
    extra: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"avg_margin": _jf(self.avg_margin), "min_margin": _jf(self.min_margin),
                "max_margin": _jf(self.max_margin), "peak_to_trough": _jf(self.peak_to_trough),
                "avg_imf": _jf(self.avg_imf), "avg_max_leverage": _jf(self.avg_max_leverage),
                "max_increase": {k: _jf(v) for k, v in self.max_increase.items()},
                "max_increase_abs": {k: _jf(v) for k, v in self.max_increase_abs.items()},
                "changes": self.changes, **{k: _jf(v) for k, v in self.extra.items()}}


@dataclass(frozen=True, slots=True, kw_only=True)
class TierCoverage:
    """Exceptions of one tier's MMF (at the tier's floor notional) over the tier's own margin period of risk
    (``horizon_bars``, at least one bar), non-overlapping offset-0 sample."""

    tier: int
    notional: float
    avg_mmf: float
    n: int
    exceptions: int
    expected: float
    kupiec_p: float
    overlapping_exceptions: int
    horizon_bars: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``tier`` 1-based)."""
        return {"tier": self.tier + 1, "notional": self.notional, "avg_mmf": _jf(self.avg_mmf), "n": self.n,
                "exceptions": self.exceptions, "expected": _jf(self.expected), "kupiec_p": _jf(self.kupiec_p),
                "overlapping_exceptions": self.overlapping_exceptions, "horizon_bars": self.horizon_bars}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedCoverage:
    """The policy replay's own promise, tested: each proposal's law gives a probability ``p_t`` that the
    close-to-close move over its tier-1 horizon (either side) exceeds the room its tier-1 MMF leaves after
    close-out cost; the realised exceptions are counted on the non-overlapping sample and Kupiec's test
    is run at the mean claimed rate. ``steady_*`` keep the observations whose proposal was made outside a
    stressed regime (the regime the proposal itself reports)."""

    n: int
    exceptions: int
    expected: float
    claimed_rate: float
    kupiec_p: float
    steady_n: int
    steady_exceptions: int
    steady_expected: float
    steady_kupiec_p: float

    @property
    def realised_rate(self) -> float:
        """Exceptions per observation."""
        return self.exceptions / self.n if self.n else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (with ``realised_rate``)."""
        return {"n": self.n, "exceptions": self.exceptions, "expected": _jf(self.expected),
                "claimed_rate": _jf(self.claimed_rate), "realised_rate": _jf(self.realised_rate),
                "kupiec_p": _jf(self.kupiec_p), "steady_n": self.steady_n,
                "steady_exceptions": self.steady_exceptions, "steady_expected": _jf(self.steady_expected),
                "steady_kupiec_p": _jf(self.steady_kupiec_p)}


def _kupiec_at(n: int, x: int, rate: float) -> float:
    """Kupiec's p-value of ``x`` exceptions in ``n`` at an exception rate ``rate`` (NaN when undefined)."""
    if n < 1 or not 0.0 < rate < 0.5:
        return math.nan
    return kupiec_pof(n, x, 1.0 - rate).p_value


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowOutcome:
    """A parameter set inside one stress window: exceptions (either side, all observations), liquidations and bad debt
    triggered in it, the margin at its start and its maximum inside it (fractions)."""

    name: str
    exceptions: int
    n: int
    liquidations: int
    bad_debt: float
    margin_start: float
    margin_max: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"name": self.name, "exceptions": self.exceptions, "n": self.n, "liquidations": self.liquidations,
                "bad_debt": _jf(self.bad_debt), "margin_start": _jf(self.margin_start),
                "margin_max": _jf(self.margin_max)}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SetBacktest:
    """One parameter set on one asset.

    Attributes
    ----------
    name, kind, source : str
        ``kind`` is ``'policy'`` (walk-forward replay) or ``'fixed'``.
    margin : ndarray, shape (n_bars,)
        Margin set at each bar of the period (tier-1 MMF; lending: room), fraction.
    imf : ndarray, shape (n_bars,)
        Tier-1 IMF (lending: ``1 - LTV``).
    version_bar : ndarray of int, shape (n_versions,)
        Period bar from which each version is in force (its proposal's bar).
    versions : tuple
        The parameters of each version (internal representation; see ``to_dict``).
    cadence : tuple of CadenceRecord
        The proposals (policy replay only).
    proposals : tuple of PerpAssetProposal or LendingAssetProposal
        The full proposals (policy replay only; not serialised).
    exceptions : ndarray of bool, shape (n_obs,)
        Headline-side exceptions at each observation.
    exceptions_any : ndarray of bool, shape (n_obs,)
        Either side beyond the margin (lending: the long side); stress windows and ``exception_dates``
        count these, so an event on the side that is not the headline is never hidden.
    side_counts : Mapping[str, Mapping[str, float]]
        Per side (``long``, ``short``; lending ``long`` only): exceptions in the non-overlapping
        sample and their Kupiec p-value, and on all observations.
    side : str
        Headline side.
    coverage : CoverageReport
    es : ESBacktestResult or None
    capital : CapitalStats
    tiers : tuple of TierCoverage
    liquidation : LiquidationResult
    shocks : pandas.DataFrame
        :func:`~riskparams.liquidation.shock_bad_debt` of the parameters in force at the end.
    windows : tuple of WindowOutcome
    claimed : ClaimedCoverage or None
        The policy replay's claimed coverage against the realised close-to-close moves.
    """

    name: str
    kind: str
    source: str
    margin: FloatArray
    imf: FloatArray
    version_bar: npt.NDArray[np.int64]
    versions: tuple[_Params, ...]
    cadence: tuple[CadenceRecord, ...]
    proposals: tuple[PerpAssetProposal | LendingAssetProposal, ...]
    exceptions: BoolArray
    exceptions_any: BoolArray
    side_counts: Mapping[str, Mapping[str, float]]
    side: str
    coverage: CoverageReport
    es: ESBacktestResult | None
    capital: CapitalStats
    tiers: tuple[TierCoverage, ...]
    liquidation: LiquidationResult
    shocks: pd.DataFrame
    windows: tuple[WindowOutcome, ...]
    claimed: ClaimedCoverage | None = None

    @property
    def changes(self) -> int:
        """Number of parameter changes."""
        return self.capital.changes


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AssetBacktest:
    """All parameter sets on one asset.

    Attributes
    ----------
    symbol, freq, source, kind : str
    synthetic : bool
    fingerprint : str
        Of the rows used (up to ``end``).
    dates : pandas.DatetimeIndex, shape (n_bars,)
        Bars of the period (margins are set at each).
    obs : int
        Observations (bars whose ``h``-bar horizon is complete): the first ``obs`` bars.
    adverse : ndarray, shape (n_obs,)
        Adverse move of the headline side (perps: per set the side may differ, see ``adverse_long`` /
        ``adverse_short``), fraction.
    adverse_long, adverse_short : ndarray, shape (n_obs,)
    horizon_bars, window : int
    model : str
        Model label (engine, model used, policy's model).
    schedule : str
        The fast engine's refit schedule.
    fast_status : Mapping[str, int]
        Fast-engine day counts per status (empty for ``engine='arch'``; keyed ``'gjr WARM'`` per model when the
        policy model ``auto`` ran every candidate).
    notes : tuple of str
    stress : tuple of StressWindow
    sets : tuple of SetBacktest
    population : PopulationSpec
        The synthetic positions drawn on the period (the same for every set).
    cost_model : Mapping[str, float]
        Perps: ``adv`` (quote currency per day) and ``sigma_daily`` (fraction) as of the first bar, with
        the policy's ``half_spread`` and ``impact_k``, of the close-out cost of the liquidation simulation.
    live_tier1 : Mapping[str, float]
        Perps: the policy's own tier-1 margin period of risk at the first bar (``mpor_hours``) and the time
        averages of the tier-1 MMF and max leverage the policy itself gives on each cadence bar's estimate
        (model only, no guardrails): the capital cost of the live policy when the backtest evaluated it with
        every MPOR at least one bar.
    """

    symbol: str
    freq: str
    source: str
    kind: str
    synthetic: bool
    fingerprint: str
    dates: pd.DatetimeIndex
    obs: int
    adverse_long: FloatArray
    adverse_short: FloatArray
    horizon_bars: int
    window: int
    model: str
    schedule: str
    fast_status: Mapping[str, int]
    notes: tuple[str, ...]
    stress: tuple[StressWindow, ...]
    sets: tuple[SetBacktest, ...]
    population: PopulationSpec
    cost_model: Mapping[str, float] = field(default_factory=dict)
    live_tier1: Mapping[str, float] = field(default_factory=dict)

    @property
    def start(self) -> pd.Timestamp:
        """First bar of the period."""
        return pd.Timestamp(self.dates[0])

    @property
    def end(self) -> pd.Timestamp:
        """Last bar of the period."""
        return pd.Timestamp(self.dates[-1])

    def set(self, name: str) -> SetBacktest:
        """The parameter set called ``name``."""
        for s in self.sets:
            if s.name == name:
                return s
        raise KeyError(f"no parameter set {name!r} for {self.symbol}")


# ---------------------------------------------------------------------------------------------
# per-asset preparation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class _Prepared:
    """An asset ready to replay: arrays over all bars up to ``end``, the period ``t0 .. t1``."""

    data: AssetData
    ts: pd.DatetimeIndex
    close: FloatArray
    high: FloatArray
    low: FloatArray
    value: FloatArray  # volume x close, quote currency (NaN unknown)
    r: FloatArray  # log returns (gaps dropped unless allowed)
    r_ts: pd.DatetimeIndex
    nk: npt.NDArray[np.int64]  # returns known at the close of each bar
    t0: int
    t1: int
    window: int
    h: int
    cadence: npt.NDArray[np.int64]  # cadence bars (absolute positions)
    notes: tuple[str, ...]
    policy: RiskPolicy  # the policy as evaluated (perps: every MPOR at least one bar)
    live_policy: RiskPolicy  # the policy itself
    term_k: int  # bars of the term structure the proposals read
    live_hours: float  # tier-1 margin period of risk of the policy itself at the first bar (perps), hours


def _choose_window(nk: npt.NDArray[np.int64], ts: pd.DatetimeIndex, n_ret: int, spec: BacktestSpec,
                   policy: RiskPolicy, freq: str, symbol: str) -> tuple[int, int, list[str]]:
    """(window, first period bar, notes) by the rules of the module docstring."""
    min_w = max(int(policy.model.min_history), 50)
    notes: list[str] = []
    if spec.start is not None:
        start = to_utc(spec.start, "start")
        t0 = int(ts.searchsorted(start, side="left"))
        if t0 >= len(ts):
            raise HistoryError(f"{symbol}: no bar at or after the start {spec.start} (last bar {iso_utc(ts[-1])}).")
        known = int(nk[t0])
        if spec.window is not None:
            w = spec.window
            if known < w:
                raise HistoryError(f"{symbol}: {known} returns known at the start {iso_utc(ts[t0])}, fewer than the "
                                   f"{w}-bar window; choose a later start or a smaller window.")
        else:
            w = min(DEFAULT_WINDOW, known)
            if w < min_w:
                raise HistoryError(f"{symbol}: {known} returns known at the start {iso_utc(ts[t0])}, fewer than the "
                                   f"policy's min_history ({min_w}); choose a later start.")
            if w < DEFAULT_WINDOW:
                notes.append(f"window {w} bars: all returns known at the start (fewer than {DEFAULT_WINDOW})")
        return w, t0, notes
    if spec.window is not None:
        w = spec.window
    else:
        bpd = 24 // hours_per_bar(freq)
        w = DEFAULT_WINDOW if n_ret >= DEFAULT_WINDOW + MIN_TEST_DAYS * bpd else min_w
        if w < DEFAULT_WINDOW:
            notes.append(f"window {w} bars (min_history): the series is too short for a {DEFAULT_WINDOW}-bar window "
                         f"and {MIN_TEST_DAYS} days of backtest")
    hit = np.flatnonzero(nk >= w)
    if hit.size == 0:
        raise HistoryError(f"{symbol}: {n_ret} returns, fewer than the {w}-bar estimation window.")
    return w, int(hit[0]), notes


def _cadence_bars(ts: pd.DatetimeIndex, t0: int, t1: int, days: float) -> npt.NDArray[np.int64]:
    step = pd.Timedelta(days=days)
    out = [t0]
    due = ts[t0] + step
    # vectorised walk: the next cadence bar is the first bar at or after the due time
    while True:
        k = int(ts.searchsorted(due, side="left"))
        if k > t1:
            break
        out.append(k)
        due = ts[k] + step
    return np.asarray(out, dtype=np.int64)


def _prepare(data: AssetData, policy: RiskPolicy, spec: BacktestSpec) -> _Prepared:
    sym = data.symbol
    validate_prices(data.prices, data.freq, label=sym)
    px = data.prices
    if spec.end is not None:
        px = px.loc[px.index <= to_utc(spec.end, "end")]
    if len(px) < 3:
        raise HistoryError(f"{sym}: {len(px)} bars up to the end; a backtest needs more.")
    ts = pd.DatetimeIndex(px.index)
    rs = returns_with_report(px, data.freq, allow_gaps=policy.model.allow_gaps)
    r = rs.returns.to_numpy(dtype=float)
    r_ts = pd.DatetimeIndex(rs.returns.index)
    nk = np.asarray(np.searchsorted(r_ts, ts, side="right"), dtype=np.int64)
    w, t0, notes = _choose_window(nk, ts, r.size, spec, policy, data.freq, sym)
    t1 = len(ts) - 1
    vol = px["volume"].to_numpy(dtype=float)
    close = px["close"].to_numpy(dtype=float)
    bar_h = float(hours_per_bar(data.freq))
    live_hours = math.nan
    if spec.profile == "perp":
        evaluated = policy
        if policy.mpor.fixed_hours <= 0 and policy.mpor.min_hours < bar_h <= policy.mpor.max_hours:
            evaluated = policy_with(policy, {"mpor.min_hours": bar_h})
        sym_u = sym.upper()
        adv0 = (float(policy.liquidity.adv_override[sym_u]) if sym_u in policy.liquidity.adv_override
                else _adv_values(vol * close, t0, policy.liquidity.adv_window_days, bar_h))
        first_cap = policy.perp.tier_breakpoints[1] if len(policy.perp.tier_breakpoints) > 1 else \
            policy.perp.last_tier_cost_notional
        live_hours = margin_period([first_cap], adv0, policy).tiers[0].horizon_hours if adv0 > 0 else math.nan
        eval_hours = margin_period([first_cap], adv0, evaluated).tiers[0].horizon_hours if adv0 > 0 else bar_h
        h = horizon_to_bars(min(eval_hours, policy.mpor.max_hours), data.freq)
        if evaluated is not policy:
            notes.append(f"tier-1 margin period of risk at the start {_hours_text(live_hours)}; the backtest cannot "
                         f"see moves inside a {bar_h:g}h bar, so it evaluates the policy with every margin period of "
                         f"risk at least one bar ({bar_h:g}h): horizon {h} bar(s)")
    else:
        evaluated = policy
        h = horizon_to_bars(policy.horizon_hours, data.freq)
    term_k = horizon_to_bars(term_hours(evaluated, spec.profile), data.freq)
    if t0 + h > t1:
        raise HistoryError(f"{sym}: the period from {iso_utc(ts[t0])} has {t1 - t0 + 1} bars, too few for one "
                           f"{h}-bar horizon.")
    if rs.report.dropped_returns:
        notes.append(f"{rs.report.dropped_returns} return(s) spanning gaps dropped; horizons count bars, not hours")
    return _Prepared(
        data=data, ts=ts, close=close, high=px["high"].to_numpy(dtype=float), low=px["low"].to_numpy(dtype=float),
        value=vol * close, r=r, r_ts=r_ts, nk=nk, t0=t0, t1=t1, window=w, h=h,
        cadence=_cadence_bars(ts, t0, t1, spec.cadence_days), notes=tuple(notes), policy=evaluated, term_k=term_k,
        live_hours=live_hours, live_policy=policy,
    )


def _hours_text(h: float) -> str:
    if not math.isfinite(h):
        return "n/a"
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.3g}h"


# ---------------------------------------------------------------------------------------------
# causal market inputs: ADV, lookback and stressed volatility
# ---------------------------------------------------------------------------------------------


def _adv_values(value: FloatArray, t: int, window_days: int, hpb: float) -> float:
    """:func:`riskparams.service.average_daily_value` of the bar values (volume x close) up to ``t``."""
    bars = max(1, int(round(window_days * 24 / hpb)))
    tail = value[max(0, t - bars + 1): t + 1]
    ok = np.isfinite(tail)
    if not ok.any():
        return math.nan
    return float(np.sum(tail[ok]) / (ok.sum() * hpb / 24.0))


def _adv_at(p: _Prepared, t: int, window_days: int) -> float:
    """:func:`riskparams.service.average_daily_value` of the bars up to ``t``."""
    return _adv_values(p.value, t, window_days, float(hours_per_bar(p.data.freq)))


def _stress_window(spec: FitSpec, freq: str) -> int:
    return int(spec.stress_window) if spec.stress_window is not None else 250 * 24 // hours_per_bar(freq)


@dataclass(frozen=True, slots=True)
class _History:
    """Running sample and stressed volatility over all returns up to each return count."""

    lookback: FloatArray  # [k]: std (ddof=1) of r[:k]
    stressed: FloatArray  # [k]: volatility.stressed_vol(r[:k], window)

    @classmethod
    def build(cls, r: FloatArray, window: int) -> _History:
        n = r.size
        k = np.arange(n + 1, dtype=float)
        c1 = np.concatenate([[0.0], np.cumsum(r)])
        c2 = np.concatenate([[0.0], np.cumsum(r * r)])
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (c2 - c1 * c1 / np.where(k > 0, k, 1.0)) / np.where(k > 1, k - 1.0, np.nan)
        lookback = np.sqrt(np.maximum(var, 0.0))
        lookback[:2] = np.nan
        roll = pd.Series(r).rolling(window, min_periods=window).std(ddof=1).to_numpy(dtype=float)
        run_max = pd.Series(roll).cummax().to_numpy(dtype=float)  # NaN until the first full window
        stressed = np.empty(n + 1)
        stressed[: window] = lookback[: window]
        stressed[window:] = run_max[window - 1:]
        return cls(lookback=lookback, stressed=stressed)


# ---------------------------------------------------------------------------------------------
# volatility estimates on cadence bars
# ---------------------------------------------------------------------------------------------


def _fast_models(spec: FitSpec, h: int) -> tuple[ModelName, ...]:
    """The models the fast engine runs for a policy's FitSpec and a horizon of ``h`` bars: the
    policy's model, or for ``auto`` every candidate (each forecast then keeps the lowest BIC, as
    :func:`fit_volatility` does), without EGARCH when its ``h``-bar variance is infinite (t or
    skewed-t innovations and ``h > 1``, which :func:`fit_volatility` skips too)."""
    if spec.model is not ModelName.AUTO:
        return (spec.model,)
    models = tuple(spec.candidates)
    if spec.dist is not DistName.NORMAL and h > 1 and len(models) > 1:
        models = tuple(m for m in models if m is not ModelName.EGARCH)
    return models


def _persistence(model: ModelName, p: Mapping[str, float]) -> float:
    """Persistence of a GARCH-family fit (arch's percent-convention parameters)."""
    if model is ModelName.GARCH:
        return p["alpha[1]"] + p["beta[1]"]
    if model is ModelName.GJR:
        return p["alpha[1]"] + 0.5 * p["gamma[1]"] + p["beta[1]"]
    return p["beta[1]"]


def _fast_dist(spec: FitSpec) -> tuple[DistName, str]:
    if spec.dist is DistName.SKEWT:
        return DistName.T, "skewed-t innovations replaced by Student-t in the fast engine"
    return spec.dist, ""


def _std_t_ppf(nu: float) -> Callable[[FloatArray], FloatArray]:
    scale = math.sqrt((nu - 2.0) / nu)

    def ppf(u: FloatArray) -> FloatArray:
        return np.asarray(stats.t.ppf(u, nu), dtype=float) * scale

    return ppf


def _norm_ppf(u: FloatArray) -> FloatArray:
    return np.asarray(stats.norm.ppf(u), dtype=float)


def _risk_and_quantiles(mu_h: float, sigma_h: float, nu: float | None, q: float) -> tuple[HorizonRisk, HorizonQuantiles]:
    """Fitted VaR/ES and the quantile grid of ``mu_h + sigma_h Z`` (Z unit-variance t(nu) or normal)."""
    tails = {}
    for tail in (Tail.LOWER, Tail.UPPER):
        if nu is None:
            v, e = normal_var_es(sigma_h, q, mu_h, tail)
        else:
            v, e = student_t_var_es(sigma_h, q, nu, mu_h, tail)
        tails[tail] = TailRisk.from_log(v, e, tail)
    risk = HorizonRisk(method="fitted", confidence=q, lower=tails[Tail.LOWER], upper=tails[Tail.UPPER])
    ppf = _norm_ppf if nu is None else _std_t_ppf(nu)
    return risk, HorizonQuantiles.from_ppf(ppf, mu_h, sigma_h, q)


def _egarch_abs_mean(nu: float | None) -> float:
    if nu is None:
        return math.sqrt(2.0 / math.pi)
    return float(math.sqrt(nu - 2.0) * math.exp(special.gammaln((nu - 1.0) / 2.0) - special.gammaln(nu / 2.0))
                 / math.sqrt(math.pi))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Day:
    """The fast engine's state for one forecast (percent convention for params)."""

    params: dict[str, float]
    mu: float  # fraction per bar
    sigma: float  # next-bar vol, fraction
    hsig: float  # horizon vol, fraction
    last_sigma: float
    loglik: float
    ok: bool


def _variances(model: ModelName, p: Mapping[str, float], s2_next: float, bars: Sequence[int], nu: float | None,
               persistence: float) -> list[float]:
    """Sums of the 1..k-step variance forecasts (percent squared) at each stored horizon ``k`` (as
    :func:`riskparams.volatility` computes them for arch's fits)."""
    if model is ModelName.EWMA:
        return [k * s2_next for k in bars]
    if model is ModelName.EGARCH:
        drift = p["omega"] + p["alpha[1]"] * (_egarch_abs_mean(nu) - math.sqrt(2.0 / math.pi))
        out, total, m, done = [], 0.0, math.log(s2_next), 0
        for k in bars:
            while done < k:
                total += math.exp(m)
                m = drift + p["beta[1]"] * m
                done += 1
            out.append(total)
        return out
    return [garch_horizon_variance(s2_next, p["omega"], persistence, k) for k in bars]


def _build_estimate(
    *,
    model: ModelName,
    dist: DistName,
    spec: FitSpec,
    freq: str,
    h: int,
    term_k: int,
    day: _Day,
    window_returns: FloatArray,
    empirical: Sequence[HorizonQuantiles] | None,
    as_of: pd.Timestamp,
    stressed: float,
    stress_window: int,
    notes: tuple[str, ...],
) -> VolEstimate:
    """A :class:`VolEstimate` from the fast engine's state (or EWMA when the model is EWMA or the fit
    is past the persistence guard and may not be kept as an integrated model), with its term structure
    over ``term_k`` bars: the fitted law scaled to each horizon's variance, filtered historical simulation
    as the window's standardized residuals scaled the same way, and the caller's historical-simulation
    grids (``empirical``, one per stored horizon of :func:`~riskparams.term.term_bars` of ``max(term_k, h)``)."""
    q = float(spec.confidence)
    p = day.params
    fallback = None
    persistence = math.nan
    integrated = False
    bar_h = float(hours_per_bar(freq))
    term_hours_ = term_k * bar_h
    if model is not ModelName.EWMA:
        persistence = _persistence(model, p)
        limit = persistence_limit(spec, freq)
        if persistence >= limit:
            if 0 < spec.integrated_max_hours and term_hours_ <= spec.integrated_max_hours and persistence <= 1 + 1e-6:
                integrated = True
            else:
                fallback = f"persistence {persistence:.6f} >= {limit:.6f} (max half-life or max_persistence)"
    use_ewma = model is ModelName.EWMA or fallback is not None
    y = window_returns
    if use_ewma:
        lam = float(spec.ewma_lambda)
        mu = float(np.mean(y)) if spec.mean is MeanName.CONSTANT else 0.0
        e = y - mu
        n = e.size
        filt = ewma_variance(e, lam)
        s2_0 = float(np.mean(e[: max(1, min(n, 30))] ** 2))
        cond = np.sqrt(np.concatenate([[s2_0], filt[:-1]]))
        z = np.where(cond > 0, e / np.where(cond > 0, cond, 1.0), 0.0)
        s2_next = float(filt[-1])
        last = float(cond[-1]) if n else math.nan
        sigma = math.sqrt(s2_next)
        nu = None
        if spec.dist is not DistName.NORMAL and n >= 30 and np.ptp(z) > 0:
            nu, _ll = fit_t_nu(z)
        params = {"lambda": lam} if spec.mean is MeanName.ZERO else {"mu": mu * 100.0, "lambda": lam}
        if nu is not None:
            params["nu"] = nu
        est_model, est_dist, pers = ModelName.EWMA, (DistName.NORMAL if nu is None else DistName.T), 1.0
        long_run = float(np.std(y, ddof=1)) if y.size > 1 else math.nan
        loglik = math.nan
        s2_pct = s2_next * 1e4
    else:
        nu = p.get("nu") if dist is DistName.T else None
        sigma, mu, last = day.sigma, day.mu, day.last_sigma
        params = dict(p)
        est_model, est_dist, pers = model, dist, persistence
        if integrated:
            long_run = math.inf
        elif model is ModelName.EGARCH:
            long_run = egarch_long_run_vol(p["omega"], p["alpha[1]"], p["beta[1]"], _egarch_abs_mean(nu)) / 100.0
        else:
            long_run = math.sqrt(p["omega"] / (1.0 - pers)) / 100.0 if pers < 1 else math.inf
        loglik = day.loglik
        s2_pct = (sigma * 100.0) ** 2
        z = fastgarch.std_residuals(p, y, model=model, dist=dist, mean=spec.mean)
    bars = term_bars(max(term_k, h))
    variances = [v / 1e4 for v in _variances(est_model, params, s2_pct, bars, nu, pers)]
    ppf = _norm_ppf if nu is None else _std_t_ppf(nu)
    zz = np.asarray(z, dtype=float)
    zz = zz[np.isfinite(zz)]
    grids: dict[str, list[HorizonQuantiles]] = {
        TermMethod.FITTED.value: [HorizonQuantiles.from_ppf(ppf, k * mu, math.sqrt(v), q, "fitted")
                                  for k, v in zip(bars, variances, strict=True)]}
    if zz.size >= 100:
        grids[TermMethod.FHS.value] = [HorizonQuantiles.from_samples(k * mu + math.sqrt(v) * zz, q, "fhs")
                                       for k, v in zip(bars, variances, strict=True)]
    if empirical is not None:
        grids[TermMethod.EMPIRICAL.value] = list(empirical)
    law = f"{est_model.value}-{est_dist.value}" + (f" (nu {nu:.2f})" if nu is not None else "") + (
        ", integrated" if integrated else "")
    term = RiskTerm.from_grids(bar_h, bars, variances, grids, law)
    hsig = math.sqrt(term.variance(h * bar_h))
    risk, hq = _risk_and_quantiles(h * mu, hsig, nu, q)
    worse = risk.worse_tail
    all_notes = list(notes)
    if spec.risk_method is not RiskMethod.FITTED:
        all_notes.append(f"risk_method '{spec.risk_method.value}': the fast engine's filtered historical simulation "
                         "scales the window's standardized residuals to each horizon; the fitted distribution is used")
    return VolEstimate(
        model=est_model, dist=est_dist, mean=spec.mean, params=params, loglik=loglik, aic=math.nan, bic=math.nan,
        converged=True, fallback=fallback, n_obs=int(window_returns.size), freq=freq, as_of=as_of,
        last_vol=last, next_vol=sigma, horizon_hours=float(spec.horizon_hours), horizon_bars=h, horizon_vol=hsig,
        var=risk.var, es=risk.es, worse_tail=worse.value, confidence=q, risk_method=RiskMethod.FITTED,
        fitted_risk=risk, fhs_risk=None, long_run_vol=long_run, stressed_vol=stressed, stress_window=stress_window,
        persistence=pers, conditional_vol=pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype=float),
        notes=tuple(all_notes), spec_key=spec.key(), horizon_quantiles=hq, term=term, nu=nu, integrated=integrated,
        horizon_basis=term.basis(h * bar_h), engine="fast" if not use_ewma else "ewma",
    )


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


# ---------------------------------------------------------------------------------------------
# the policy replay
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class _Replay:
    version_bar: npt.NDArray[np.int64]  # absolute bar of each version
    versions: tuple[_Params, ...]
    records: tuple[CadenceRecord, ...]
    proposals: tuple[PerpAssetProposal | LendingAssetProposal, ...]
    es_ratio: FloatArray  # per version
    arch_fallbacks: int
    claimed_rate: FloatArray  # per version: the probability the proposal gives a close-to-close move beyond its room
    room: FloatArray  # per version: tier-1 MMF less its close-out cost (lending: 1 - LT (1 + LB))
    stressed: BoolArray  # per version: proposed in a stressed regime
    live: FloatArray  # per version, perps: (tier-1 MMF, max leverage) the policy itself gives (no guardrails)


def _fast_day(res: fastgarch.WalkForwardResult, j: int) -> _Day:
    params = {n: float(v) for n, v in zip(res.param_names, res.params[j], strict=True)}
    ok = bool(np.isfinite(res.sigma[j])) and all(math.isfinite(v) for v in params.values())
    last = float(res.sigma[j - 1]) if j > 0 else math.nan
    ll_hist = res.loglikelihood[: j + 1]
    fin = np.flatnonzero(np.isfinite(ll_hist))
    ll = float(ll_hist[fin[-1]]) if fin.size else math.nan
    return _Day(params=params, mu=float(res.mu[j]), sigma=float(res.sigma[j]), hsig=float(res.horizon_sigma[j]),
                last_sigma=last, loglik=ll, ok=ok)


def _fast_days(
    fast: Mapping[ModelName, fastgarch.WalkForwardResult] | None, persistence_max: float, integrated_ok: bool = False
) -> Callable[[int], tuple[ModelName, _Day]]:
    """Forecast ``j``'s model and state. With several models (policy model ``auto``), as
    :func:`fit_volatility` chooses: among the fits that are valid and usable, the lowest BIC
    ``-2 loglik + k ln(window)`` at their last refit (the fast engine's log-likelihood is arch's). A fit at
    or above the persistence guard (``persistence_max``) is usable when ``integrated_ok`` (kept as an
    integrated model: persistence at most 1) and ranked after the usable ones otherwise (when every valid
    fit is past the guard, the lowest BIC of those: the estimate then falls back to EWMA, as arch's path
    does); when none is valid, the first model's failed day (the caller then fits with arch)."""

    def day(j: int) -> tuple[ModelName, _Day]:
        assert fast
        ranked: list[tuple[bool, float, int, ModelName, _Day]] = []
        first: tuple[ModelName, _Day] | None = None
        for order, (model, res) in enumerate(fast.items()):
            d = _fast_day(res, j)
            if first is None:
                first = (model, d)
            if not (d.ok and math.isfinite(d.loglik)):
                continue
            pers = _persistence(model, d.params)
            guarded = pers >= persistence_max and not (integrated_ok and pers <= 1.0 + 1e-6)
            bic = -2.0 * d.loglik + len(res.param_names) * math.log(res.window)
            ranked.append((guarded, bic, order, model, d))
        if not ranked:
            assert first is not None
            return first
        _g, _b, _o, model, d = min(ranked)
        return model, d

    return day


def _guard_lines(prop: PerpAssetProposal | LendingAssetProposal) -> tuple[str, ...]:
    out = []
    for ln in prop.lines:
        if ln.bound in ("dead_band", "max_change", "invariant"):
            where = "" if ln.tier is None else f" tier {ln.tier + 1}"
            out.append(f"{ln.parameter}{where}: {ln.bound}")
    return tuple(out)


def _replay_policy(
    p: _Prepared,
    policy: RiskPolicy,
    spec: BacktestSpec,
    profile: str,
    current: CurrentPerp | CurrentLending | None,
    fast: Mapping[ModelName, fastgarch.WalkForwardResult] | None,
    tick: Callable[[str], None],
) -> _Replay:
    sym = p.data.symbol.upper()
    freq = p.data.freq
    fs = replace(policy.model, horizon_hours=p.term_k * float(hours_per_bar(freq)))
    models = _fast_models(fs, p.term_k)
    dist, note_d = _fast_dist(fs)
    notes = (note_d,) if note_d else ()
    sw = _stress_window(fs, freq)
    hist = _History.build(p.r, sw)
    day_of = _fast_days(fast, persistence_limit(fs, freq),
                        0 < fs.integrated_max_hours and fs.horizon_hours <= fs.integrated_max_hours)
    k0 = int(p.nk[p.t0])
    in_force = current
    prev: _Params | None = None
    if current is not None:
        prev = _PerpSet.from_current(current) if isinstance(current, CurrentPerp) else _LendSet.from_current(current)
    last_ok_perp = prev if isinstance(prev, _PerpSet) else None
    bars: list[int] = []
    versions: list[_Params] = []
    records: list[CadenceRecord] = []
    proposals: list[PerpAssetProposal | LendingAssetProposal] = []
    ratios: list[float] = []
    claimed: list[tuple[float, float]] = []
    live: list[tuple[float, float]] = []
    arch_fallbacks = 0
    override = policy.liquidity.adv_override.get(sym)
    emp_bars = term_bars(max(p.term_k, p.h))
    emp_at: list[Any] = [-1, None]

    def emp(k: int) -> Sequence[HorizonQuantiles] | None:
        """Historical-simulation grids of every return known (``k``), recomputed when the history has grown by
        more than 1% since the last computation (the quantiles of years of returns barely move in a week)."""
        if emp_at[0] < 0 or k > emp_at[0] * 1.01:
            try:
                emp_at[1] = empirical_grids(p.r[:k], emp_bars)
            except ValueError:
                emp_at[1] = None
            emp_at[0] = k
        return emp_at[1]  # type: ignore[no-any-return]

    for t in p.cadence:
        t = int(t)
        k = int(p.nk[t])
        stressed = float(hist.stressed[k])
        engine_used = spec.engine.value
        est: VolEstimate | None = None
        if spec.engine is Engine.FAST:
            win = p.r[k - p.window: k]
            if models == (ModelName.EWMA,):
                est = _build_estimate(model=ModelName.EWMA, dist=dist, spec=fs, freq=freq, h=p.h, term_k=p.term_k,
                                      day=_Day(params={}, mu=0.0, sigma=math.nan, hsig=math.nan, last_sigma=math.nan,
                                               loglik=math.nan, ok=True),
                                      window_returns=win, empirical=emp(k), as_of=p.ts[t], stressed=stressed,
                                      stress_window=sw, notes=notes)
            else:
                model, d = day_of(k - k0)
                if d.ok:
                    est = _build_estimate(model=model, dist=dist, spec=fs, freq=freq, h=p.h, term_k=p.term_k,
                                          day=d, window_returns=win, empirical=emp(k), as_of=p.ts[t],
                                          stressed=stressed, stress_window=sw, notes=notes)
                else:
                    engine_used = "arch (fast fit failed)"
                    arch_fallbacks += 1
        if est is None:
            est = _arch_estimate(p, t, fs, stressed, sw, emp(k))
        adv = float(override) if override is not None else _adv_at(p, t, policy.liquidity.adv_window_days)
        if not (math.isfinite(adv) and adv > 0):
            raise HistoryError(f"{sym}: no volume data to estimate ADV at {iso_utc(p.ts[t])}; set "
                               f"liquidity.adv_override.{sym} in the policy.")
        lookback = float(hist.lookback[k])
        new: _Params
        if profile == "perp":
            cur_perp = in_force if isinstance(in_force, CurrentPerp) else None
            prop: PerpAssetProposal | LendingAssetProposal = propose_tiers(
                est, policy, adv=adv, current=cur_perp, symbol=sym, lookback_vol=lookback)
            assert isinstance(prop, PerpAssetProposal)
            if prop.status == "ok" and prop.tiers:
                new = _PerpSet.from_proposal(prop)
                last_ok_perp = new
                in_force = new.to_current(sym)
            else:
                base = last_ok_perp if last_ok_perp is not None else _PerpSet(
                    floors=(0.0,), caps=(None,), mmf=(0.5,), max_leverage=(1.0,), penalty=(0.0,))
                new = base.frozen_copy()
        else:
            cur_l = in_force if isinstance(in_force, CurrentLending) else None
            prop = propose_lending(est, policy, adv=adv, current=cur_l, symbol=sym, lookback_vol=lookback)
            assert isinstance(prop, LendingAssetProposal)
            new = _LendSet(prop.ltv, prop.liquidation_threshold, prop.liquidation_bonus)
            in_force = new.to_current(sym)
        changed = prev is None or new.values() != prev.values()
        cm = prop.covered
        records.append(CadenceRecord(
            ts=p.ts[t], params=new.to_dict(), changed=bool(changed), model=f"{est.model.value}-{est.dist.value}",
            engine=engine_used, next_vol_annualised=est.next_vol_annualised, covered_move=cm.final,
            in_stress=cm.in_stress, binding=tuple(cm.binding), guardrails=_guard_lines(prop), status=prop.status,
        ))
        bars.append(t)
        versions.append(new)
        proposals.append(prop)
        ratios.append(_es_ratio(est, profile == "lending"))
        claimed.append(_claimed(est, prop))
        live_mmf, live_lev = math.nan, math.nan
        if profile == "perp" and p.live_policy is not policy:
            lp = propose_tiers(est, p.live_policy, adv=adv, symbol=sym, lookback_vol=lookback)
            if lp.tiers:
                live_mmf, live_lev = lp.tiers[0].mmf, lp.tiers[0].max_leverage
        elif profile == "perp" and isinstance(prop, PerpAssetProposal) and prop.tiers:
            live_mmf, live_lev = prop.tiers[0].mmf_model, prop.tiers[0].max_leverage
        live.append((live_mmf, live_lev))
        prev = new
        tick(f"{sym} {iso_utc(p.ts[t])[:10]}")
    return _Replay(version_bar=np.asarray(bars, dtype=np.int64), versions=tuple(versions), records=tuple(records),
                   proposals=tuple(proposals), es_ratio=np.asarray(ratios, dtype=float), arch_fallbacks=arch_fallbacks,
                   claimed_rate=np.asarray([c[0] for c in claimed], dtype=float),
                   room=np.asarray([c[1] for c in claimed], dtype=float),
                   stressed=np.asarray([r.in_stress for r in records], dtype=bool),
                   live=np.asarray(live, dtype=float).reshape(-1, 2))


def _claimed(est: VolEstimate, prop: PerpAssetProposal | LendingAssetProposal) -> tuple[float, float]:
    """(rate, room): the probability the proposal's own law gives to a close-to-close move over its tier-1
    horizon (lending: its horizon) beyond the room its margin leaves (perps: tier-1 MMF less close-out cost,
    either side, the two tails summed; lending ``1 - LT (1 + LB)``): what its coverage claims. A frozen or
    unmarginable proposal promises nothing (rate 0, room 1)."""
    term, band = est.term, prop.model_risk
    if term is None or band is None:
        return 0.0, 1.0
    if isinstance(prop, PerpAssetProposal):
        if prop.status != "ok" or not prop.tiers:
            return 0.0, 1.0
        t = prop.tiers[0]
        room = t.mmf - t.close_out_cost
        hq = term.quantiles(band.bound, min(t.horizon_hours, term.max_hours))
        return (1.0 - hq.prob_move_within(room, Tail.LOWER)) + (1.0 - hq.prob_move_within(room, Tail.UPPER)), room
    room = 1.0 - prop.liquidation_threshold * (1.0 + prop.liquidation_bonus)
    hq = term.quantiles(band.bound, min(band.horizon_hours, term.max_hours))
    return 1.0 - hq.prob_move_within(room, Tail.LOWER), room


# ---------------------------------------------------------------------------------------------
# evaluation of a parameter set
# ---------------------------------------------------------------------------------------------


def _margin_of(v: _Params) -> float:
    if isinstance(v, _PerpSet):
        return v.mmf_at(0.0)
    return v.room


def _imf_of(v: _Params) -> float:
    if isinstance(v, _PerpSet):
        return 1.0 if v.frozen else 1.0 / v.max_leverage[0]
    return 1.0 - v.ltv


def _max_increase(m: FloatArray, lag: int) -> tuple[float, float]:
    """Largest ``m_t / m_{t-lag} - 1`` and ``m_t - m_{t-lag}`` (NaN when the path is too short)."""
    if lag < 1 or m.size <= lag:
        return math.nan, math.nan
    a, b = m[lag:], m[:-lag]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(b > 0, a / b - 1.0, np.nan)
    return float(np.nanmax(rel)) if np.isfinite(rel).any() else math.nan, float(np.max(a - b))


def _capital(margin: FloatArray, imf: FloatArray, vidx: npt.NDArray[np.int64], versions: Sequence[_Params],
             freq: str) -> CapitalStats:
    bpd = max(1, 24 // hours_per_bar(freq))
    incs = {f"{d}d": _max_increase(margin, d * bpd) for d in (1, 5, 30)}
    changes = sum(1 for a, b in zip(versions[:-1], versions[1:], strict=True) if a.values() != b.values())
    with np.errstate(divide="ignore"):
        lev = 1.0 / imf
    extra: dict[str, float] = {}
    if versions and isinstance(versions[0], _LendSet):
        ltv = np.asarray([versions[i].ltv for i in vidx], dtype=float)  # type: ignore[union-attr]
        lt = np.asarray([versions[i].lt for i in vidx], dtype=float)  # type: ignore[union-attr]
        lb = np.asarray([versions[i].lb for i in vidx], dtype=float)  # type: ignore[union-attr]
        extra = {"avg_ltv": float(ltv.mean()), "avg_liquidation_threshold": float(lt.mean()),
                 "avg_liquidation_bonus": float(lb.mean())}
    lo, hi = float(np.min(margin)), float(np.max(margin))
    return CapitalStats(
        avg_margin=float(np.mean(margin)), min_margin=lo, max_margin=hi,
        peak_to_trough=hi / lo if lo > 0 else math.inf, avg_imf=float(np.mean(imf)),
        avg_max_leverage=float(np.mean(lev)), max_increase={k: v[0] for k, v in incs.items()},
        max_increase_abs={k: v[1] for k, v in incs.items()}, changes=int(changes), extra=extra,
    )


def _schedule(name: str, ts: pd.DatetimeIndex, bars: npt.NDArray[np.int64], versions: Sequence[_Params]) -> MarginSchedule:
    """Liquidation schedule: the first version from the start; later ones from the bar after their
    proposal; frozen versions keep the tiers before them; unchanged ones are merged."""
    out: list[ScheduleVersion] = []
    last: tuple[Any, ...] | None = None
    for i, (b, v) in enumerate(zip(bars, versions, strict=True)):
        if v.frozen:
            continue
        vals = v.values()
        if vals == last:
            continue
        if i == 0 or not out:
            out.append(ScheduleVersion(effective_from=None, tiers=v.tiers()))
        else:
            if int(b) + 1 >= len(ts):
                continue
            out.append(ScheduleVersion(effective_from=ts[int(b) + 1], tiers=v.tiers()))
        last = vals
    if not out:  # every version frozen: no leverage from the start
        base = versions[0]
        assert isinstance(base, _PerpSet)
        out.append(ScheduleVersion(effective_from=None, tiers=replace(base, frozen=False).tiers()))
    return MarginSchedule(name=name, versions=tuple(out))


def _side_series(adv_long: FloatArray, adv_short: FloatArray, margin: FloatArray, side: Side,
                 lending: bool) -> tuple[str, FloatArray]:
    if lending or side is Side.LONG:
        return "long", adv_long
    if side is Side.SHORT:
        return "short", adv_short
    if side is Side.BOTH:
        return "both", np.fmax(adv_long, adv_short)
    n_long = int(np.count_nonzero(adv_long > margin))
    n_short = int(np.count_nonzero(adv_short > margin))
    return ("short", adv_short) if n_short > n_long else ("long", adv_long)


def _evaluate_set(
    p: _Prepared,
    *,
    name: str,
    kind: str,
    source: str,
    bars: npt.NDArray[np.int64],
    versions: Sequence[_Params],
    es_ratio: FloatArray,
    records: Sequence[CadenceRecord],
    proposals: Sequence[PerpAssetProposal | LendingAssetProposal],
    policy: RiskPolicy,
    spec: BacktestSpec,
    adv_long: FloatArray,
    adv_short: FloatArray,
    stress: Sequence[StressWindow],
    prices_period: pd.DataFrame,
    population: Any,
    cost: Callable[[FloatArray], FloatArray] | None,
    tier_moves: Callable[[float], tuple[int, FloatArray, FloatArray]] | None = None,
    claimed: tuple[FloatArray, FloatArray, BoolArray] | None = None,
) -> SetBacktest:
    q = policy.confidence
    lending = spec.profile == "lending"
    t0, t1, h = p.t0, p.t1, p.h
    period = np.arange(t0, t1 + 1)
    vidx = np.asarray(np.searchsorted(bars, period, side="right") - 1, dtype=np.int64)
    if (vidx < 0).any():
        raise AssertionError("a bar of the period has no parameters in force")
    mv = np.asarray([_margin_of(v) for v in versions], dtype=float)
    iv = np.asarray([_imf_of(v) for v in versions], dtype=float)
    margin, imf = mv[vidx], iv[vidx]
    n_obs = adv_long.size
    m_obs = margin[:n_obs]
    side, adverse = _side_series(adv_long, adv_short, m_obs, spec.side, lending)
    exc = adverse > m_obs
    any_exc = (np.fmax(adv_long, adv_short) > m_obs) if not lending else exc
    idx_h = np.arange(0, n_obs, h)
    side_counts: dict[str, dict[str, float]] = {}
    for nm, arr in (("long", adv_long), ("short", adv_short)) if not lending else (("long", adv_long),):
        e_all = arr > m_obs
        e0 = e_all[idx_h]
        side_counts[nm] = {"exceptions": int(e0.sum()), "n": int(e0.size), "overlapping_exceptions": int(e_all.sum()),
                           "kupiec_p": kupiec_pof(int(e0.size), int(e0.sum()), q).p_value if e0.size else math.nan}
    dates = p.ts[t0: t0 + n_obs]
    cov = coverage_report(exc, q, horizon_bars=h, dates=dates, exceedances=adverse - m_obs, margins=m_obs,
                          windows=stress)
    # ES backtest on the offset-0 non-overlapping sample
    idx0 = np.arange(0, n_obs, h)
    ratio = es_ratio[:n_obs][idx0]  # per period bar
    var0 = m_obs[idx0]
    es_res: ESBacktestResult | None = None
    if idx0.size and (var0 > 0).all():
        es_res = es_backtest(adverse[idx0], var0, var0 * ratio, q, n_sims=spec.es_sims, seed=0)
    # tiers (perps): exceptions of each tier's MMF at its floor notional, over the tier's own horizon
    tier_cov: list[TierCoverage] = []
    if not lending:
        first = versions[0]
        assert isinstance(first, _PerpSet)
        perp_versions = [v for v in versions if isinstance(v, _PerpSet)]
        for k, floor in enumerate(first.floors):
            cap = first.caps[k]
            hk, al, ash = (h, adv_long, adv_short) if tier_moves is None else tier_moves(
                float(cap) if cap is not None else max(policy.perp.last_tier_cost_notional, 2.0 * floor))
            nk_obs = al.size
            tm = np.asarray([v.mmf_at(floor) for v in perp_versions], dtype=np.float64)[vidx]
            _sd, tadv = _side_series(al, ash, tm[:nk_obs], spec.side, lending)
            te = tadv > tm[:nk_obs]
            e0 = te[np.arange(0, nk_obs, hk)]
            tier_cov.append(TierCoverage(
                tier=k, notional=float(floor), avg_mmf=float(tm.mean()), n=int(e0.size),
                exceptions=int(e0.sum()), expected=float(e0.size * (1 - q)),
                kupiec_p=kupiec_pof(int(e0.size), int(e0.sum()), q).p_value if e0.size else math.nan,
                overlapping_exceptions=int(te.sum()), horizon_bars=int(hk)))
    claimed_cov = None
    if claimed is not None:
        rate_v, room_v, stressed_v = claimed
        rate, room = rate_v[vidx][:n_obs], room_v[vidx][:n_obs]
        c0, c_h = p.close[t0: t0 + n_obs], p.close[t0 + h: t0 + h + n_obs]
        ratio = c_h / c0
        exc_c = (1.0 - ratio > room) if lending else ((1.0 - ratio > room) | (ratio - 1.0 > room))
        in_stress = stressed_v[vidx][:n_obs]
        sel = np.zeros(n_obs, dtype=bool)
        sel[idx_h] = True
        steady = sel & ~in_stress
        n_all, x_all, exp_all = int(sel.sum()), int(exc_c[sel].sum()), float(rate[sel].sum())
        n_st, x_st, e_st = int(steady.sum()), int(exc_c[steady].sum()), float(rate[steady].sum())
        claimed_cov = ClaimedCoverage(
            n=n_all, exceptions=x_all, expected=exp_all, claimed_rate=exp_all / n_all if n_all else math.nan,
            kupiec_p=_kupiec_at(n_all, x_all, exp_all / n_all if n_all else math.nan), steady_n=n_st,
            steady_exceptions=x_st, steady_expected=e_st,
            steady_kupiec_p=_kupiec_at(n_st, x_st, e_st / n_st if n_st else math.nan))
    capital = _capital(margin, imf, vidx, versions, p.data.freq)
    try:
        sched = _schedule(name, p.ts, bars, versions)
    except ValueError as err:
        raise PolicyError(f"parameter set {name!r} ({source}) for {p.data.symbol}: {err}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        liq = simulate_liquidations(prices_period, sched, population, close_out="worst", horizon_bars=h,
                                    close_out_cost=cost, insurance_fund_start=spec.insurance_fund_start)
    # shocks on the parameters in force at the end (the last non-frozen ones)
    end_tiers = sched.latest
    shocks = shock_bad_debt(end_tiers, spec.shock_list, close_out_cost=cost,
                            notionals=(policy.lending.reference_liquidation_notional,) if lending else None)
    # stress windows
    detail = liq.positions_detail
    lts = pd.DatetimeIndex(pd.to_datetime(detail["liquidation_ts"], utc=True))
    liq_bd = detail["bad_debt"].to_numpy(dtype=float)
    period_ts = p.ts[t0: t1 + 1]
    wins = []
    for w in stress:
        in_w = np.asarray((lts >= w.start) & (lts <= w.end))
        mask = np.asarray((period_ts >= w.start) & (period_ts <= w.end))
        omask = mask[:n_obs]
        wm = margin[mask]
        wins.append(WindowOutcome(
            name=w.name, exceptions=int(any_exc[omask].sum()), n=int(omask.sum()), liquidations=int(in_w.sum()),
            bad_debt=float(np.nansum(liq_bd[in_w])), margin_start=float(wm[0]) if wm.size else math.nan,
            margin_max=float(wm.max()) if wm.size else math.nan))
    return SetBacktest(
        name=name, kind=kind, source=source, margin=margin, imf=imf, version_bar=np.asarray(bars - t0, dtype=np.int64),
        versions=tuple(versions), cadence=tuple(records), proposals=tuple(proposals), exceptions=exc,
        exceptions_any=any_exc, side_counts=side_counts, side=side, coverage=cov, es=es_res, capital=capital, tiers=tuple(tier_cov),
        liquidation=liq, shocks=shocks, windows=tuple(wins), claimed=claimed_cov,
    )


def _cost_model(p: _Prepared, policy: RiskPolicy, lookback_vol: float) -> tuple[Callable[[FloatArray], FloatArray],
                                                                                 dict[str, float]]:
    """Square-root close-out cost with ADV and daily volatility as of the first period bar, and its inputs."""
    sym = p.data.symbol.upper()
    override = policy.liquidity.adv_override.get(sym)
    adv = float(override) if override is not None else _adv_at(p, p.t0, policy.liquidity.adv_window_days)
    sd = lookback_vol * math.sqrt(24.0 / hours_per_bar(p.data.freq))
    liq = policy.liquidity
    inputs = {"adv": adv, "sigma_daily": sd, "half_spread": float(liq.half_spread), "impact_k": float(liq.impact_k)}
    if not (math.isfinite(adv) and adv > 0 and math.isfinite(sd)):
        half = float(liq.half_spread)
        return (lambda n: np.full(np.shape(n), half)), inputs

    def cost(n: FloatArray) -> FloatArray:
        return np.minimum(np.asarray(impact_cost(np.asarray(n, dtype=float), adv, sd, k=liq.impact_k,
                                                 half_spread=liq.half_spread), dtype=float), 0.5)

    return cost, inputs


def _evaluate_asset(
    p: _Prepared,
    policy: RiskPolicy,
    spec: BacktestSpec,
    fixed: Sequence[FixedParameters],
    current: CurrentPerp | CurrentLending | None,
    fast: Mapping[ModelName, fastgarch.WalkForwardResult] | None,
    tick: Callable[[str], None],
) -> AssetBacktest:
    lending = spec.profile == "lending"
    sym = p.data.symbol.upper()
    t0, t1, h = p.t0, p.t1, p.h
    policy = p.policy  # as evaluated: perps with every margin period of risk at least one bar
    replay = _replay_policy(p, policy, spec, spec.profile, current, fast, tick)
    # adverse moves over the period (windows cut at the last bar of the data read)
    close, high, low = p.close[: t1 + 1], p.high[: t1 + 1], p.low[: t1 + 1]
    from riskparams.coverage import adverse_moves

    a_long = adverse_moves(close, high, low, h, "long")[t0: t1 + 1]
    a_short = adverse_moves(close, high, low, h, "short")[t0: t1 + 1]
    n_obs = t1 + 1 - t0 - h
    a_long, a_short = a_long[:n_obs], a_short[:n_obs]
    prices_period = p.data.prices.iloc[t0: t1 + 1][["open", "high", "low", "close"]]
    stress = drawdown_episodes(prices_period["close"], n=spec.n_episodes, windows=spec.windows)
    pop_spec = spec.population or default_population(spec.profile, p.data.freq)
    population = generate_population(pop_spec, pd.DatetimeIndex(prices_period.index))
    hist_lookback = float(np.std(p.r[: int(p.nk[t0])], ddof=1)) if int(p.nk[t0]) > 1 else math.nan
    cost, cost_inputs = (None, {}) if lending else _cost_model(p, policy, hist_lookback)
    # ES/VaR ratio of the policy's estimate in force at each period bar (used by every set's ES test)
    period = np.arange(t0, t1 + 1)
    ratio_bar = replay.es_ratio[np.searchsorted(replay.version_bar, period, side="right") - 1]
    tier_moves = None if lending else _tier_moves(p, policy, close, high, low)
    common = dict(policy=policy, spec=spec, adv_long=a_long, adv_short=a_short, stress=stress,
                  prices_period=prices_period, population=population, cost=cost, tier_moves=tier_moves)
    sets = [_evaluate_set(p, name=POLICY_SET, kind="policy", source=f"walk-forward replay, cadence "
                          f"{spec.cadence_days:g} days", bars=replay.version_bar, versions=replay.versions,
                          es_ratio=ratio_bar, records=replay.records, proposals=replay.proposals,
                          claimed=(replay.claimed_rate, replay.room, replay.stressed),
                          **common)]  # type: ignore[arg-type]
    notes = list(p.notes)
    for fp in fixed:
        par = fp.assets.get(sym)
        if par is None:
            notes.append(f"parameter set {fp.name!r} ({fp.source}) has no {sym}")
            continue
        v: _Params = _PerpSet.from_current(par) if isinstance(par, CurrentPerp) else _LendSet.from_current(par)
        sets.append(_evaluate_set(p, name=fp.name, kind="fixed", source=fp.source,
                                  bars=np.asarray([t0], dtype=np.int64), versions=(v,), es_ratio=ratio_bar,
                                  records=(), proposals=(), **common))  # type: ignore[arg-type]
    model_label = _model_label(policy.model, spec, p.term_k)
    live_tier1: dict[str, float] = {}
    if not lending:
        period = np.arange(t0, t1 + 1)
        vix = np.searchsorted(replay.version_bar, period, side="right") - 1
        lv = replay.live[vix]
        live_tier1 = {"mpor_hours": p.live_hours, "avg_mmf": float(np.nanmean(lv[:, 0])) if np.isfinite(
            lv[:, 0]).any() else math.nan, "avg_max_leverage": float(np.nanmean(lv[:, 1])) if np.isfinite(
            lv[:, 1]).any() else math.nan}
    return AssetBacktest(
        symbol=sym, freq=p.data.freq, source=p.data.source, kind=p.data.kind, synthetic=p.data.synthetic,
        fingerprint=p.data.fingerprint, dates=p.ts[t0: t1 + 1], obs=n_obs, adverse_long=a_long,
        adverse_short=a_short, horizon_bars=h, window=p.window, model=model_label,
        schedule=_fast_schedule(fast) if spec.engine is Engine.FAST else "refit on cadence bars",
        fast_status=_fast_status(fast), notes=tuple(notes)
        + ((f"{replay.arch_fallbacks} cadence bar(s) fitted by arch after the fast fit failed",)
           if replay.arch_fallbacks else ()),
        stress=stress, sets=tuple(sets), population=pop_spec, cost_model=cost_inputs, live_tier1=live_tier1,
    )


def _tier_moves(p: _Prepared, policy: RiskPolicy, close: FloatArray, high: FloatArray,
                low: FloatArray) -> Callable[[float], tuple[int, FloatArray, FloatArray]]:
    """For a tier closing out ``notional``: its horizon in bars (the policy's margin period of risk at the first
    bar's ADV, at least one bar) and the long and short adverse excursions over it at each observation."""
    from riskparams.coverage import adverse_moves

    sym = p.data.symbol.upper()
    override = policy.liquidity.adv_override.get(sym)
    adv0 = float(override) if override is not None else _adv_at(p, p.t0, policy.liquidity.adv_window_days)
    cache: dict[int, tuple[FloatArray, FloatArray]] = {}
    longest = max(1, p.t1 - p.t0 - 1)

    def moves(notional: float) -> tuple[int, FloatArray, FloatArray]:
        hours = margin_period([notional], adv0, policy).tiers[0].horizon_hours if adv0 > 0 else math.inf
        hk = min(horizon_to_bars(min(hours, policy.mpor.max_hours), p.data.freq), longest)
        if hk not in cache:
            n_obs = p.t1 + 1 - p.t0 - hk
            cache[hk] = (adverse_moves(close, high, low, hk, "long")[p.t0: p.t0 + n_obs],
                         adverse_moves(close, high, low, hk, "short")[p.t0: p.t0 + n_obs])
        return (hk, *cache[hk])

    return moves


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
    models = _fast_models(fs, term_k)
    dist, _ = _fast_dist(fs)
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


# ---------------------------------------------------------------------------------------------
# serialisation and the report
# ---------------------------------------------------------------------------------------------


def _daily_positions(dates: pd.DatetimeIndex, freq: str) -> npt.NDArray[np.intp]:
    """Positions to keep in stored paths: every bar for daily bars, the last bar of each UTC day otherwise."""
    if hours_per_bar(freq) >= 24:
        return np.arange(len(dates))
    day = np.asarray(dates.normalize().asi8)
    last = np.r_[day[1:] != day[:-1], True]
    return np.flatnonzero(last)


def _floats(a: npt.ArrayLike) -> list[float | None]:
    return [_jf(x) for x in np.asarray(a, dtype=float)]


def _set_dict(s: SetBacktest, a: AssetBacktest, *, paths: bool) -> dict[str, Any]:
    n_obs = a.obs
    dates = a.dates
    exc_dates = [iso_utc(dates[int(i)]) for i in np.flatnonzero(s.exceptions_any)]
    out: dict[str, Any] = {
        "name": s.name, "kind": s.kind, "source": s.source, "side": s.side,
        "sides": {k: {kk: _jf(vv) if isinstance(vv, float) else vv for kk, vv in v.items()}
                  for k, v in s.side_counts.items()},
        "coverage": s.coverage.to_dict(),
        "es_backtest": None if s.es is None else s.es.to_dict(),
        "capital": s.capital.to_dict(),
        "tiers": [t.to_dict() for t in s.tiers],
        "liquidation": s.liquidation.to_dict(path=False),
        "shocks": [{k: (_jf(v) if isinstance(v, float | np.floating) else (int(v) if isinstance(v, np.integer) else v))
                    for k, v in row.items()} for row in s.shocks.to_dict(orient="records")],
        "stress_windows": [w.to_dict() for w in s.windows],
        "claimed": None if s.claimed is None else s.claimed.to_dict(),
        "exception_dates": exc_dates,  # either side
        "versions": [{"from": iso_utc(dates[int(b)]), **v.to_dict()} for b, v in zip(s.version_bar, s.versions,
                                                                                  strict=True)]
        if s.kind == "fixed" else [],
        "proposals": [r.to_dict() for r in s.cadence],
    }
    if paths:
        keep = _daily_positions(dates, a.freq)
        fund = s.liquidation.insurance_fund.to_numpy(dtype=float)
        out["paths"] = {"margin": _floats(s.margin[keep]), "imf": _floats(s.imf[keep]),
                        "insurance_fund": _floats(fund[keep])}
    del n_obs
    return out


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BacktestReport:
    """A backtest of one or more assets under one policy: every parameter set side by side.

    Attributes
    ----------
    profile : str
    spec : BacktestSpec
    policy : RiskPolicy
    assets : tuple of AssetBacktest
    skipped : tuple of (symbol, reason)
        Assets left out, with the reason (one sentence).
    provenance : Mapping
        ``packages`` (name -> version) and ``data`` (symbol -> fingerprint), given by the caller.
    """

    profile: str
    spec: BacktestSpec
    policy: RiskPolicy
    assets: tuple[AssetBacktest, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> str | None:
        """First bar of any asset's period (ISO-8601 UTC), None without assets."""
        return min((iso_utc(a.start) for a in self.assets), default=None)

    @property
    def end(self) -> str | None:
        """Last bar of any asset's period."""
        return max((iso_utc(a.end) for a in self.assets), default=None)

    def results(self) -> list[dict[str, Any]]:
        """One row per (asset, parameter set) in the shape of
        :data:`riskparams.export.BACKTEST_RESULT_KEYS` (headline: the non-overlapping offset-0 sample)."""
        q = self.policy.confidence
        rows = []
        for a in self.assets:
            for s in a.sets:
                st = s.coverage.non_overlapping
                ch = st.christoffersen
                rows.append({
                    "symbol": a.symbol, "parameter_set": s.name, "n": st.n, "exceptions": st.exceptions,
                    "expected": _jf(st.expected), "confidence": q,
                    "kupiec_lr": None if st.kupiec is None else _jf(st.kupiec.lr),
                    "kupiec_p": None if st.kupiec is None else _jf(st.kupiec.p_value),
                    "christoffersen_lr": None if ch is None else _jf(ch.independence.lr),
                    "christoffersen_p": None if ch is None else _jf(ch.independence.p_value),
                    "cc_lr": None if ch is None else _jf(ch.conditional.lr),
                    "cc_p": None if ch is None else _jf(ch.conditional.p_value),
                    "traffic_light": None if st.zone is None else st.zone.value,
                    "avg_margin": _jf(s.capital.avg_margin), "peak_to_trough": _jf(s.capital.peak_to_trough),
                    "max_5d_increase": _jf(s.capital.max_increase["5d"]),
                    "bad_debt": _jf(s.liquidation.bad_debt), "liquidations": int(s.liquidation.liquidations),
                })
        return rows

    def content(self, *, paths: bool = True) -> dict[str, Any]:
        """The hashed content (JSON-safe): ``format, profile, start, end, spec, policy, results, assets,
        skipped, provenance``; ``paths`` adds the margin, IMF and insurance-fund paths (daily) and the
        adverse moves."""
        assets = []
        for a in self.assets:
            d: dict[str, Any] = {
                "symbol": a.symbol, "freq": a.freq, "source": a.source, "kind": a.kind, "synthetic": a.synthetic,
                "fingerprint": a.fingerprint, "start": iso_utc(a.start), "end": iso_utc(a.end), "bars": len(a.dates),
                "observations": a.obs, "horizon_bars": a.horizon_bars, "window": a.window, "model": a.model,
                "schedule": a.schedule, "fast_status": dict(a.fast_status), "notes": list(a.notes),
                "stress_windows": [w.to_dict() for w in a.stress],
                "population": a.population.to_dict(), "cost_model": {k: _jf(v) for k, v in a.cost_model.items()},
                "live_tier1": {k: _jf(v) for k, v in a.live_tier1.items()},
                "sets": [_set_dict(s, a, paths=paths) for s in a.sets],
            }
            if paths:
                keep = _daily_positions(a.dates, a.freq)
                keep_obs = keep[keep < a.obs]
                d["paths"] = {"ts": [iso_utc(a.dates[i]) for i in keep],
                              "adverse_long": _floats(a.adverse_long[keep_obs]),
                              "adverse_short": _floats(a.adverse_short[keep_obs])}
            assets.append(d)
        pol = {**self.policy.to_dict(), "policy_key": self.policy.key()}
        return {
            "format": REPORT_FORMAT, "profile": self.profile, "start": self.start, "end": self.end,
            "spec": self.spec.to_dict(), "policy": pol, "results": self.results(), "assets": assets,
            "skipped": [{"symbol": s, "reason": r} for s, r in self.skipped],
            "provenance": dict(self.provenance),
        }

    @property
    def id(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`content` (with paths)."""
        return content_id(self.content())

    def asset(self, symbol: str) -> AssetBacktest:
        """The result of one asset."""
        for a in self.assets:
            if a.symbol == symbol.upper():
                return a
        raise KeyError(f"no asset {symbol!r} in the backtest")


# ---------------------------------------------------------------------------------------------
# orchestration
# ---------------------------------------------------------------------------------------------


class _Progress:
    """Thread-safe counter around the caller's ``progress(done, total, message)``."""

    def __init__(self, fn: ProgressFn | None, total: int) -> None:
        self.fn = fn
        self.total = max(int(total), 1)
        self.done = 0
        self.lock = threading.Lock()

    def add(self, total: int) -> None:
        with self.lock:
            self.total += total

    def step(self, message: str, n: int = 1) -> None:
        with self.lock:
            self.done = min(self.done + n, self.total)
            done, total = self.done, self.total
        if self.fn is not None:
            self.fn(done, total, message)


def _fast_runs(prepared: Sequence[_Prepared], policy: RiskPolicy, spec: BacktestSpec,
               backend: str) -> list[dict[ModelName, fastgarch.WalkForwardResult] | None]:
    """The fast engine for all assets at once (grouped by window), threads across assets: one
    walk-forward per model the policy needs (every candidate for ``auto``)."""
    out: list[dict[ModelName, fastgarch.WalkForwardResult] | None] = [None] * len(prepared)
    if spec.engine is not Engine.FAST or policy.model.model is ModelName.EWMA:
        return out
    dist, _ = _fast_dist(policy.model)
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, p in enumerate(prepared):
        groups.setdefault((p.window, p.h, p.term_k), []).append(i)
    for (w, h, term_k), members in groups.items():
        models = _fast_models(policy.model, term_k)
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


def _asset_job(args: tuple[Any, ...]) -> AssetBacktest:
    """Worker entry of a process pool (module level; the policy travels as its dictionary, since its
    read-only mappings do not pickle)."""
    from riskparams.config import policy_from_dict

    p, policy_dict, spec, fixed, current, fast = args
    return _evaluate_asset(p, policy_from_dict(policy_dict), spec, fixed, current, fast, lambda _m: None)


def backtest_asset(
    data: AssetData,
    policy: RiskPolicy,
    spec: BacktestSpec,
    *,
    current: CurrentPerp | CurrentLending | None = None,
    fixed: Sequence[FixedParameters] = (),
) -> AssetBacktest:
    """Backtest one asset (see the module docstring): the policy replay and the fixed sets.

    Parameters
    ----------
    data : AssetData
    policy : RiskPolicy
    spec : BacktestSpec
    current : CurrentPerp or CurrentLending, optional
        The parameters in force at the start: the policy replay's first guardrails. (To also evaluate
        them as a fixed set, pass them in ``fixed`` too.)
    fixed : sequence of FixedParameters

    Raises
    ------
    HistoryError
        Too little history for the window and one horizon, or no volume for the ADV.
    """
    report = run_backtest([data], policy, spec, current=None if current is None else {data.symbol.upper(): current},
                          fixed=fixed, backend="serial", skip_failures=False)
    return report.assets[0]


def run_backtest(
    data: Sequence[AssetData],
    policy: RiskPolicy,
    spec: BacktestSpec,
    *,
    current: Mapping[str, CurrentPerp | CurrentLending] | None = None,
    fixed: Sequence[FixedParameters] = (),
    progress: ProgressFn | None = None,
    backend: str = "threads",
    n_workers: int | None = None,
    provenance: Mapping[str, Any] | None = None,
    skip_failures: bool = True,
) -> BacktestReport:
    """Backtest several assets: the policy replay and every fixed set, side by side.

    Parameters
    ----------
    data : sequence of AssetData
        One series per asset (symbols unique).
    policy : RiskPolicy
    spec : BacktestSpec
    current : mapping symbol -> CurrentPerp or CurrentLending, optional
        Parameters in force at the start of the policy replay (its first guardrails).
    fixed : sequence of FixedParameters
        Fixed sets to evaluate (``current`` as a set, files, stored proposals); names unique and not
        ``'policy'``.
    progress : callable, optional
        ``progress(done, total, message)``; may be called from worker threads.
    backend : {'threads', 'processes', 'serial'}
        How assets are evaluated in parallel (the fast engine always runs all assets in one compiled
        call with numba threads unless ``'serial'``). Measured on 2 cores (``benchmarks/backtest.py``,
        10 assets x 1000 days, weekly cadence): threads 3.4 s, processes (2 spawned workers) 4.3 s,
        serial 4.8 s; threads are the default (numpy and scipy release the GIL in the heavy parts, a
        process pool pays for spawning and for pickling the frames and results).
    n_workers : int, optional
        Workers for the per-asset evaluation (default: 2).
    provenance : mapping, optional
        Stored in the report (package versions; the data fingerprints are added from ``data``).
    skip_failures : bool
        An asset with too little history (or another :class:`RiskParamsError`) is skipped with its
        reason instead of failing the run.

    Returns
    -------
    BacktestReport
    """
    if spec.profile not in ("perp", "lending"):
        raise PolicyError(f"profile must be 'perp' or 'lending', got {spec.profile!r}")
    if backend not in ("threads", "processes", "serial"):
        raise PolicyError(f"backend must be 'threads', 'processes' or 'serial', got {backend!r}")
    names = [f.name for f in fixed]
    if len(set(names)) != len(names) or POLICY_SET in names:
        raise PolicyError(f"parameter set names must be unique and not {POLICY_SET!r}, got {names}")
    for f in fixed:
        if f.profile != spec.profile:
            raise PolicyError(f"parameter set {f.name!r} ({f.source}) is for {f.profile}, the backtest is for "
                              f"{spec.profile}")
    syms = [d.symbol.upper() for d in data]
    if len(set(syms)) != len(syms):
        raise PolicyError(f"each asset may appear once, got {syms}")
    cur_map = {k.upper(): v for k, v in (current or {}).items()}
    for sym, c in cur_map.items():
        want = CurrentPerp if spec.profile == "perp" else CurrentLending
        if not isinstance(c, want):
            raise PolicyError(f"current parameters of {sym} are not {spec.profile} parameters")
    skipped: list[tuple[str, str]] = []
    prepared: list[_Prepared] = []
    for d in data:
        try:
            prepared.append(_prepare(d, policy, spec))
        except RiskParamsError as exc:
            if not skip_failures:
                raise
            skipped.append((d.symbol.upper(), str(exc)))
    per_asset = [len(p.cadence) if spec.engine is Engine.ARCH else 1 for p in prepared]
    prog = _Progress(progress, 1 + sum(per_asset))
    t_fast = time.perf_counter()
    fast = _fast_runs(prepared, policy, spec, backend)
    prog.step(f"forecasts for {len(prepared)} asset(s) in {time.perf_counter() - t_fast:.1f}s")
    results: dict[int, AssetBacktest] = {}
    jobs = [(p, policy, spec, tuple(fixed), cur_map.get(p.data.symbol.upper()), fast[i])
            for i, p in enumerate(prepared)]

    def run_one(i: int) -> AssetBacktest:
        if spec.engine is Engine.ARCH:
            return _evaluate_asset(*jobs[i], lambda m: prog.step(m))  # type: ignore[misc]
        return _evaluate_asset(*jobs[i], lambda _m: None)  # type: ignore[misc]

    def record(i: int, res: AssetBacktest | None, err: BaseException | None) -> None:
        sym = prepared[i].data.symbol.upper()
        if err is not None:
            if not skip_failures or not isinstance(err, RiskParamsError):
                raise err
            skipped.append((sym, str(err)))
        else:
            assert res is not None
            results[i] = res
        if spec.engine is not Engine.ARCH:
            prog.step(f"{sym} done")

    if backend == "serial" or len(jobs) <= 1:
        for i in range(len(jobs)):
            try:
                record(i, run_one(i), None)
            except RiskParamsError as exc:
                record(i, None, exc)
    else:
        workers = n_workers or 2
        executor: Executor
        if backend == "processes":
            executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        else:
            executor = ThreadPoolExecutor(max_workers=workers)
        with executor as ex:
            pol_dict = policy.to_dict()
            futs = {(ex.submit(_asset_job, (jobs[i][0], pol_dict, *jobs[i][2:])) if backend == "processes"
                     else ex.submit(run_one, i)): i for i in range(len(jobs))}
            for fut in as_completed(futs):
                i = futs[fut]
                err = fut.exception()
                if err is not None and not isinstance(err, RiskParamsError):
                    raise err
                if backend == "processes" and spec.engine is Engine.ARCH:
                    prog.step(f"{prepared[i].data.symbol.upper()} done", n=per_asset[i])
                record(i, None if err is not None else fut.result(), err)
    assets = tuple(results[i] for i in sorted(results))
    prov = dict(provenance or {})
    prov["data"] = {a.symbol: a.fingerprint for a in assets}
    return BacktestReport(profile=spec.profile, spec=spec, policy=policy,
                          assets=tuple(sorted(assets, key=lambda a: a.symbol)),
                          skipped=tuple(sorted(skipped)), provenance=prov)
