"""What a backtest runs: the :class:`BacktestSpec` (validated, recorded in the report), its choices and the
default synthetic population. Part of :mod:`riskparams.backtest` (see its docstring for the method)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from riskparams.domain import Profile, parse_choice
from riskparams.exceptions import DataError, PolicyError
from riskparams.liquidation import DiscreteLeverage, LognormalNotional, PopulationSpec
from riskparams.returns import hours_per_bar, iso_utc, to_utc
from riskparams.volatility import FitEngine

DEFAULT_WINDOW = 1000
"""Default rolling estimation window, bars."""
MIN_TEST_DAYS = 250
"""Without ``start`` or ``window``: the window is :data:`DEFAULT_WINDOW` only when this many days of
returns follow it; otherwise ``min_history``."""
POLICY_SET = "policy"
"""Name of the walk-forward replay of the policy."""
CURRENT_SET = "current"
"""Name of the current parameters."""


Engine = FitEngine
"""Forecast engine of a backtest: ``fast``, the compiled daily walk-forward, or ``arch``, arch fits on cadence
bars; the one engine choice of the volatility layer (:class:`riskparams.volatility.FitEngine`)."""


class Side(StrEnum):
    """Perpetual exceptions: the worse side (default), either side, longs or shorts."""

    WORSE = "worse"
    BOTH = "both"
    LONG = "long"
    SHORT = "short"


def _int_ge(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if (isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < lo
            or (hi is not None and int(value) > hi)):
        top = "" if hi is None else f" and <= {hi:,}"
        raise PolicyError(f"{name} must be an integer >= {lo}{top}, got {value!r}")
    return int(value)


def _when(name: str, value: object) -> Any:
    """``value`` as a UTC timestamp, else PolicyError naming the field."""
    try:
        return to_utc(value, name)
    except DataError as exc:
        raise PolicyError(str(exc), field=name, value=value) from None


MAX_BARS = 1_000_000
"""Largest estimation window and refit interval in bars: 114 years of hourly bars."""
MAX_CADENCE_DAYS = 3650.0
"""Longest time between the policy replay's proposals: ten years."""
MAX_LAG_DAYS = 365.0
"""Longest execution lag (vote plus timelock) of the policy replay: one year."""
DEFAULT_WARMUP_MAX_DAYS = 365.0
"""Default longest warm-up of the policy replay, days (the warm-up ends earlier when the parameters in force
reach the model's target)."""
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
    execution_lag_days : float, default 0
        Days between a proposal of the policy replay and the bar from which it is in force (vote plus
        timelock): a decision at the close of bar ``t`` governs the first bar at or after ``ts[t] + lag``
        (0: in force from its own bar, as before). Decisions never read later bars.
    warmup_max_days : float, default 365
        Longest warm-up of the policy replay (days from the first bar): the warm-up ends when the
        parameters in force first reach the model's target within the dead-band, or after this long.

    Examples
    --------
    Dates are normalised to ISO-8601 UTC; a value out of range is refused with one sentence:

    >>> import riskparams
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> spec.start, str(spec.profile), str(spec.engine)
    ('2020-06-01T00:00:00Z', 'perp', 'fast')
    >>> riskparams.BacktestSpec(cadence_days=0)
    Traceback (most recent call last):
    ...
    riskparams.exceptions.PolicyError: cadence_days must be a number > 0 and <= 3650 (ten years), got 0
    """

    profile: Profile = Profile.PERP
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
    execution_lag_days: float = 0.0
    warmup_max_days: float = DEFAULT_WARMUP_MAX_DAYS

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile", Profile.parse(self.profile, error=PolicyError))
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, iso_utc(_when(name, v)))
        if self.start is not None and self.end is not None and self.end < self.start:
            raise PolicyError(f"end ({self.end}) is before start ({self.start})")
        cd = self.cadence_days
        if (isinstance(cd, bool) or not isinstance(cd, int | float) or not math.isfinite(cd)
                or not 0 < cd <= MAX_CADENCE_DAYS):
            raise PolicyError(f"cadence_days must be a number > 0 and <= {MAX_CADENCE_DAYS:g} (ten years), got {cd!r}")
        object.__setattr__(self, "cadence_days", float(cd))
        object.__setattr__(self, "engine", parse_choice(Engine, "engine", self.engine, error=PolicyError))
        object.__setattr__(self, "side", parse_choice(Side, "side", self.side, error=PolicyError))
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
            s_, e_ = _when("window start", s), _when("window end", e)
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
        lag = self.execution_lag_days
        if (isinstance(lag, bool) or not isinstance(lag, int | float | np.integer | np.floating)
                or not math.isfinite(lag) or not 0 <= lag <= MAX_LAG_DAYS):
            raise PolicyError(f"execution_lag_days must be a number >= 0 and <= {MAX_LAG_DAYS:g} (one year), got {lag!r}")
        object.__setattr__(self, "execution_lag_days", float(lag))
        wm = self.warmup_max_days
        if (isinstance(wm, bool) or not isinstance(wm, int | float | np.integer | np.floating)
                or not math.isfinite(wm) or not 0 < wm <= MAX_CADENCE_DAYS):
            raise PolicyError(f"warmup_max_days must be a number > 0 and <= {MAX_CADENCE_DAYS:g} (ten years), "
                              f"got {wm!r}")
        object.__setattr__(self, "warmup_max_days", float(wm))

    @property
    def shock_list(self) -> tuple[float, ...]:
        """The shocks used (the profile's default when not given)."""
        if self.shocks is not None:
            return self.shocks
        return (-0.3, -0.5, 0.3, 0.5) if self.profile is Profile.PERP else (-0.3, -0.5)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``population`` as :meth:`PopulationSpec.to_dict`, None for the default)."""
        return {
            "profile": self.profile.value, "start": self.start, "end": self.end, "cadence_days": self.cadence_days,
            "engine": self.engine.value, "window": self.window, "refit_every": self.refit_every,
            "side": self.side.value, "windows": [list(w) for w in self.windows], "n_episodes": self.n_episodes,
            "shocks": list(self.shock_list), "population": None if self.population is None else self.population.to_dict(),
            "insurance_fund_start": self.insurance_fund_start, "es_sims": self.es_sims,
            "execution_lag_days": self.execution_lag_days, "warmup_max_days": self.warmup_max_days,
        }


def default_population(profile: Profile | str, freq: str, *, seed: int = 0) -> PopulationSpec:
    """The default synthetic population of a profile at a bar frequency.

    Perpetuals: 5,000 positions, half long, desired leverage 2, 3, 5, 10, 20 or 50x (capped by each
    set's max leverage), notional lognormal with median 50,000 and log-sd 2 (about 1 in 9 above 1m:
    the larger tiers are exercised), held 1 to 30 days. Lending: 5,000 borrowers (long collateral),
    desired leverage 1.25 to 5x (capped at ``1 / (1 - LTV)``), collateral median 100,000, held 1 to
    60 days. Entry bars uniform over the period.
    """
    bpd = max(1, 24 // hours_per_bar(freq))
    if Profile.parse(profile) is Profile.PERP:
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

