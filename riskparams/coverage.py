"""Coverage statistics of margin backtests: pure numpy/scipy (no statsmodels, no I/O).

The building blocks of a margin backtest: given, for each observation ``t``, whether the realized
adverse move over the margin period of risk exceeded the margin in force at ``t`` (an
*exception*), these functions say whether the exceptions are as rare and as scattered as the
confidence level ``q`` promises. ``p = 1 - q`` is the promised exception probability.

Tests
-----
* :func:`kupiec_pof` -- Kupiec (1995) proportion of failures, ``x`` exceptions in ``n``::

      LR_uc = -2 ln[(1-p)^(n-x) p^x] + 2 ln[(1-x/n)^(n-x) (x/n)^x]  ~  chi2(1)

  with ``0 ln 0 = 0`` (so ``x = 0`` gives ``LR_uc = -2 n ln(1-p)`` and ``x = n`` gives
  ``-2 n ln p``). Two-sided: too few exceptions (an over-conservative margin) is rejected too.
* :func:`christoffersen` -- Christoffersen (1998) independence, from the transition counts
  ``N_ij`` (an ``i`` at ``t-1`` followed by a ``j`` at ``t``; 1 = exception)::

      pi01 = N01 / (N00 + N01),  pi11 = N11 / (N10 + N11),  pi = (N01 + N11) / (n - 1)
      LR_ind = -2 ln[(1-pi)^(N00+N10) pi^(N01+N11)]
               + 2 ln[(1-pi01)^N00 pi01^N01 (1-pi11)^N10 pi11^N11]  ~  chi2(1)
      LR_cc  = LR_uc + LR_ind  ~  chi2(2)

  ``LR_uc`` is Kupiec's statistic on all ``n`` observations (the convention of MathWorks'
  ``varbacktest``, whose published example the tests reproduce). A ratio with an empty
  denominator (no exceptions, no ``1 -> *`` transitions, all exceptions) has no weight in the
  likelihood (``0 ln 0 = 0``); it is reported as NaN.
* :func:`traffic_light` -- the Basel (1996) zones from the binomial CDF ``F(x; n, p)``: green
  while ``F(x) < 0.95``, yellow while ``F(x) < 0.9999``, red from there. At ``n = 250``,
  ``q = 0.99``: green 0-4, yellow 5-9, red 10 or more. Zero exceptions is always green (for tiny
  samples ``F(0) = q^n`` can pass 0.95, but no exception cannot signal a margin that is too low).
* :func:`es_backtest` -- Acerbi & Szekely (2014) ``Z2`` test of expected shortfall, and the mean
  exceedance ratio (see the function).

Overlapping horizons
--------------------
A margin covers an ``h``-bar horizon (the margin period of risk) but is backtested at every bar:
the adverse moves of consecutive observations share ``h - 1`` bars, so exceptions cluster even
under a perfect model, the binomial law behind Kupiec and the traffic light no longer holds, and
Christoffersen's independence test rejects by construction. :func:`coverage_report` therefore
reports two things, labelled:

(a) **non-overlapping** (the tests' assumptions hold): every ``h``-th observation. The headline
    result uses **offset 0** (observations ``0, h, 2h, ...`` from the first one), a fixed rule
    chosen before looking at the data; the statistics of all ``h`` offsets are reported beside
    it (count range, smallest Kupiec p-value, worst zone), so a reader sees how much the choice
    of offset matters. No average over offsets is used as a test: the ``h`` subsamples are
    dependent on each other and an average p-value has no known distribution.
(b) **overlapping** (all observations, ``dependent=True``): more data for the exception rate
    and the exceedances, but its p-values and zone are descriptive only.

Per calendar year and per user-given window the report gives counts on all observations and the
tests on the offset-0 subsample inside the period.

Units: moves, margins, exceedances are fractions of price (0.03 = 3 %); losses in
:func:`es_backtest` are positive numbers in any unit shared with VaR and ES.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special, stats

from riskparams.jsonio import clean_float, iso_z

__all__ = [
    "AS_Z2_THRESHOLDS_975",
    "ChristoffersenResult",
    "CoverageReport",
    "CoverageStats",
    "ESBacktestResult",
    "OffsetSummary",
    "PeriodStats",
    "TestResult",
    "TrafficLightBounds",
    "TrafficLightRow",
    "Zone",
    "acerbi_szekely_z2",
    "adverse_moves",
    "christoffersen",
    "coverage_report",
    "es_backtest",
    "kupiec_pof",
    "kupiec_region",
    "traffic_light",
    "traffic_light_bounds",
    "traffic_light_table",
    "transition_counts",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

YELLOW_CDF = 0.95
"""Basel (1996): the yellow zone starts where the binomial CDF of the exception count reaches 95 %."""
RED_CDF = 0.9999
"""Basel (1996): the red zone starts where the binomial CDF reaches 99.99 %."""

AS_Z2_THRESHOLDS_975 = (-0.70, -1.8)
"""Acerbi & Szekely (2014): ``Z2`` thresholds at 5 % and 0.01 % significance for the 97.5 % ES,
found by simulation for ``T = 250`` and nearly the same across the distributions they tried."""


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


_jf = clean_float  # JSON-safe float: NaN and infinities become None (riskparams.jsonio)


def _check_confidence(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float | np.floating):
        raise TypeError(f"confidence must be a number, got {type(confidence).__name__}")
    q = float(confidence)
    if not 0.5 < q < 1.0:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence!r}")
    return q


def _check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def _as_bool(exceptions: npt.ArrayLike, name: str = "exceptions") -> BoolArray:
    a = np.asarray(exceptions)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.dtype == np.bool_:
        return a
    if a.size and not np.isin(a, (0, 1)).all():
        raise ValueError(f"{name} must hold booleans (or 0/1), got values other than 0 and 1")
    return a.astype(bool)


def _as_float(x: npt.ArrayLike | None, n: int, name: str) -> FloatArray | None:
    if x is None:
        return None
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like exceptions, got {a.shape}")
    return a


def _binom_loglik(n: int, x: int, p: float) -> float:
    """``ln[(1-p)^(n-x) p^x]`` with ``0 ln 0 = 0``."""
    return float(special.xlogy(x, p) + special.xlogy(n - x, 1.0 - p))


# ---------------------------------------------------------------------------------------------
# Kupiec, Christoffersen, traffic light
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TestResult:
    """A likelihood-ratio statistic and its chi-squared p-value.

    Attributes
    ----------
    lr : float
        The statistic (>= 0).
    p_value : float
        ``P(chi2(df) >= lr)``.
    df : int
        Degrees of freedom of the asymptotic chi-squared law.
    """

    __test__ = False  # not a pytest test class

    lr: float
    p_value: float
    df: int = 1

    def rejects(self, level: float = 0.05) -> bool:
        """True when ``p_value < level`` (the test rejects the model at significance ``level``)."""
        return bool(self.p_value < level)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"lr": _jf(self.lr), "p_value": _jf(self.p_value), "df": int(self.df)}


def _lr_result(lr: float, df: int) -> TestResult:
    lr = max(0.0, float(lr))  # rounding can make a zero statistic slightly negative
    return TestResult(lr=lr, p_value=float(stats.chi2.sf(lr, df)), df=df)


def kupiec_pof(n: int, exceptions: int, confidence: float) -> TestResult:
    """Kupiec (1995) proportion-of-failures test.

    Parameters
    ----------
    n : int
        Number of observations, >= 1.
    exceptions : int
        Number of exceptions ``x``, ``0 <= x <= n``.
    confidence : float
        Confidence level ``q`` of the margin (0.99 = 99 %); ``p = 1 - q``.

    Returns
    -------
    TestResult
        ``LR_uc`` (formula in the module docstring) and its ``chi2(1)`` p-value.
    """
    n = _check_count("n", n, 1)
    x = _check_count("exceptions", exceptions, 0)
    if x > n:
        raise ValueError(f"exceptions must be <= n, got {x} > {n}")
    p = 1.0 - _check_confidence(confidence)
    lr = -2.0 * (_binom_loglik(n, x, p) - _binom_loglik(n, x, x / n))
    return _lr_result(lr, 1)


def kupiec_region(n: int, confidence: float, test_level: float = 0.95) -> tuple[int, int]:
    """Non-rejection region of the Kupiec test: the exception counts it does not reject.

    Parameters
    ----------
    n : int
        Number of observations.
    confidence : float
        Confidence level ``q`` of the margin.
    test_level : float, default 0.95
        Confidence of the test: counts with ``LR_uc < chi2.ppf(test_level, 1)`` are accepted.

    Returns
    -------
    (int, int)
        Smallest and largest accepted count (inclusive): the table of Kupiec (1995) writes the
        region ``lo - 1 < N < hi + 1``.
    """
    n = _check_count("n", n, 1)
    p = 1.0 - _check_confidence(confidence)
    if not 0.0 < test_level < 1.0:
        raise ValueError(f"test_level must be in (0, 1), got {test_level!r}")
    x = np.arange(n + 1, dtype=float)
    ph = x / n
    ll0 = special.xlogy(x, p) + special.xlogy(n - x, 1.0 - p)
    ll1 = special.xlogy(x, ph) + special.xlogy(n - x, 1.0 - ph)
    lr = -2.0 * (ll0 - ll1)
    ok = np.flatnonzero(lr < stats.chi2.ppf(test_level, 1))
    if ok.size == 0:
        raise ValueError(f"the Kupiec test rejects every count for n={n} at test_level={test_level}")
    return int(ok[0]), int(ok[-1])


@dataclass(frozen=True, slots=True, kw_only=True)
class ChristoffersenResult:
    """Christoffersen (1998) independence and conditional-coverage tests.

    Attributes
    ----------
    n, exceptions : int
        Observations and exceptions.
    n00, n01, n10, n11 : int
        Transition counts (``n_ij``: state ``i`` at ``t-1``, ``j`` at ``t``; 1 = exception);
        they sum to ``n - 1``.
    pi01, pi11, pi : float
        ``P(exception | none before)``, ``P(exception | exception before)`` and the pooled
        rate over the transitions; NaN when the denominator is 0.
    unconditional : TestResult
        Kupiec's ``LR_uc`` on all ``n`` observations, ``chi2(1)``.
    independence : TestResult
        ``LR_ind``, ``chi2(1)``.
    conditional : TestResult
        ``LR_cc = LR_uc + LR_ind``, ``chi2(2)``.
    """

    n: int
    exceptions: int
    n00: int
    n01: int
    n10: int
    n11: int
    pi01: float
    pi11: float
    pi: float
    unconditional: TestResult
    independence: TestResult
    conditional: TestResult

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "n": self.n, "exceptions": self.exceptions,
            "n00": self.n00, "n01": self.n01, "n10": self.n10, "n11": self.n11,
            "pi01": _jf(self.pi01), "pi11": _jf(self.pi11), "pi": _jf(self.pi),
            "unconditional": self.unconditional.to_dict(),
            "independence": self.independence.to_dict(),
            "conditional": self.conditional.to_dict(),
        }


def transition_counts(exceptions: npt.ArrayLike) -> tuple[int, int, int, int]:
    """``(N00, N01, N10, N11)`` of a 0/1 sequence (shape (n,)); they sum to ``max(n - 1, 0)``."""
    e = _as_bool(exceptions)
    a, b = e[:-1], e[1:]
    return (
        int(np.count_nonzero(~a & ~b)),
        int(np.count_nonzero(~a & b)),
        int(np.count_nonzero(a & ~b)),
        int(np.count_nonzero(a & b)),
    )


def christoffersen(exceptions: npt.ArrayLike, confidence: float) -> ChristoffersenResult:
    """Christoffersen (1998) independence and conditional-coverage tests.

    Parameters
    ----------
    exceptions : array_like of bool, shape (n,)
        Exception indicator in time order, ``n >= 1``.
    confidence : float
        Confidence level ``q`` of the margin.

    Returns
    -------
    ChristoffersenResult
        Counts, transition probabilities and the three tests (formulas in the module docstring).
        With fewer than two observations there is no transition and ``LR_ind = 0``.
    """
    e = _as_bool(exceptions)
    n = int(e.size)
    if n < 1:
        raise ValueError("exceptions must hold at least one observation")
    q = _check_confidence(confidence)
    x = int(np.count_nonzero(e))
    n00, n01, n10, n11 = transition_counts(e)
    d0, d1, m = n00 + n01, n10 + n11, n00 + n01 + n10 + n11
    pi01 = n01 / d0 if d0 else math.nan
    pi11 = n11 / d1 if d1 else math.nan
    pi = (n01 + n11) / m if m else math.nan
    # a rate with an empty denominator carries no weight: any value (here 0) gives the same likelihood
    p01, p11, pp = (0.0 if math.isnan(v) else v for v in (pi01, pi11, pi))
    ll_alt = (
        special.xlogy(n00, 1.0 - p01) + special.xlogy(n01, p01)
        + special.xlogy(n10, 1.0 - p11) + special.xlogy(n11, p11)
    )
    ll_null = special.xlogy(n00 + n10, 1.0 - pp) + special.xlogy(n01 + n11, pp)
    ind = _lr_result(-2.0 * (ll_null - ll_alt), 1)
    uc = kupiec_pof(n, x, q)
    cc = _lr_result(uc.lr + ind.lr, 2)
    return ChristoffersenResult(
        n=n, exceptions=x, n00=n00, n01=n01, n10=n10, n11=n11, pi01=pi01, pi11=pi11, pi=pi,
        unconditional=uc, independence=ind, conditional=cc,
    )


class Zone(StrEnum):
    """Basel traffic-light zone."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def rank(self) -> int:
        """0 green, 1 yellow, 2 red (to take the worst of several zones)."""
        return {"green": 0, "yellow": 1, "red": 2}[self.value]


def _zone_of(x: int, cdf: float) -> Zone:
    if x == 0 or cdf < YELLOW_CDF:
        return Zone.GREEN
    return Zone.YELLOW if cdf < RED_CDF else Zone.RED


def traffic_light(n: int, exceptions: int, confidence: float) -> Zone:
    """Basel (1996) traffic-light zone of ``exceptions`` in ``n`` observations at confidence ``q``.

    Green while ``F(x; n, 1 - q) < 0.95``, yellow while ``< 0.9999``, red from there (``F`` the
    binomial CDF); zero exceptions is always green.

    Parameters
    ----------
    n : int
        Number of (independent) observations, >= 1.
    exceptions : int
        Exception count ``x``, ``0 <= x <= n``.
    confidence : float
        Confidence level of the margin.

    Returns
    -------
    Zone
    """
    n = _check_count("n", n, 1)
    x = _check_count("exceptions", exceptions, 0)
    if x > n:
        raise ValueError(f"exceptions must be <= n, got {x} > {n}")
    p = 1.0 - _check_confidence(confidence)
    return _zone_of(x, float(stats.binom.cdf(x, n, p)))


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficLightBounds:
    """Zone boundaries for ``n`` observations at a confidence level.

    ``yellow_from``: the smallest exception count in the yellow zone; ``red_from``: in the red
    zone. Green is ``0 .. yellow_from - 1``. A boundary is ``n + 1`` when the zone cannot be
    reached (``yellow_from == red_from`` when the yellow zone is empty).
    """

    n: int
    confidence: float
    yellow_from: int
    red_from: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"n": self.n, "confidence": self.confidence, "yellow_from": self.yellow_from,
                "red_from": self.red_from}


def _cdf_table(n: int, p: float) -> FloatArray:
    return np.asarray(stats.binom.cdf(np.arange(n + 1), n, p), dtype=float)


def traffic_light_bounds(n: int, confidence: float) -> TrafficLightBounds:
    """Zone boundaries of :func:`traffic_light` for ``n`` observations at ``confidence``.

    For ``n = 250``, ``confidence = 0.99``: ``yellow_from = 5``, ``red_from = 10``.
    """
    n = _check_count("n", n, 1)
    q = _check_confidence(confidence)
    cdf = _cdf_table(n, 1.0 - q)
    zones = [_zone_of(x, float(c)) for x, c in enumerate(cdf)]
    yellow = next((x for x, z in enumerate(zones) if z is not Zone.GREEN), n + 1)
    red = next((x for x, z in enumerate(zones) if z is Zone.RED), n + 1)
    return TrafficLightBounds(n=n, confidence=q, yellow_from=yellow, red_from=red)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficLightRow:
    """One row of the traffic-light table: ``probability = P(X = x)``, ``cumulative = P(X <= x)``."""

    exceptions: int
    probability: float
    cumulative: float
    zone: Zone

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"exceptions": self.exceptions, "probability": _jf(self.probability),
                "cumulative": _jf(self.cumulative), "zone": self.zone.value}


def traffic_light_table(n: int, confidence: float, up_to: int | None = None) -> tuple[TrafficLightRow, ...]:
    """The traffic-light table (Basel 1996, Table 2) for any ``n`` and confidence.

    Parameters
    ----------
    n : int
        Number of observations.
    confidence : float
        Confidence level.
    up_to : int, optional
        Last exception count listed (default: the first red count, or ``n``).
    """
    n = _check_count("n", n, 1)
    q = _check_confidence(confidence)
    p = 1.0 - q
    cdf = _cdf_table(n, p)
    pmf = np.asarray(stats.binom.pmf(np.arange(n + 1), n, p), dtype=float)
    if up_to is None:
        up_to = min(traffic_light_bounds(n, q).red_from, n)
    up_to = min(_check_count("up_to", up_to, 0), n)
    return tuple(
        TrafficLightRow(exceptions=x, probability=float(pmf[x]), cumulative=float(cdf[x]),
                        zone=_zone_of(x, float(cdf[x])))
        for x in range(up_to + 1)
    )


# ---------------------------------------------------------------------------------------------
# expected shortfall
# ---------------------------------------------------------------------------------------------


def _es_inputs(
    losses: npt.ArrayLike, var: npt.ArrayLike, es: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = np.asarray(losses, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"losses must be a non-empty one-dimensional array, got shape {x.shape}")
    v = _as_float(var, x.size, "var")
    s = _as_float(es, x.size, "es")
    assert v is not None and s is not None
    for name, a in (("losses", x), ("var", v), ("es", s)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite")
    if not (s > 0).all():
        raise ValueError("es must be > 0 (a positive loss) at every observation")
    if not (s >= v).all():
        raise ValueError("es must be >= var at every observation")
    return x, v, s


def acerbi_szekely_z2(losses: npt.ArrayLike, var: npt.ArrayLike, es: npt.ArrayLike, confidence: float) -> float:
    """Acerbi & Szekely (2014) ``Z2`` statistic.

    Sign convention: ``losses`` are positive when money is lost (``L_t = -X_t``, ``X_t`` the P&L
    of A&S); ``var`` and ``es`` are positive forecasts at confidence ``q``, ``alpha = 1 - q``::

        I_t = 1{L_t > VaR_t},   Z2 = 1 - sum_t L_t I_t / (T alpha ES_t)

    which is A&S's ``Z2 = sum_t X_t I_t / (T alpha ES_t) + 1``. Under the null (the forecast
    distribution is right in its tail) ``E[Z2] = 0``; ``Z2 < 0`` when the expected shortfall is
    understated, ``> 0`` when overstated. The test is one-sided: reject for ``Z2`` too negative.

    Parameters
    ----------
    losses, var, es : array_like, shape (T,) (var and es may be scalars)
        Realized losses and the forecasts made before them (same unit).
    confidence : float
        ``q`` (0.975 for the Basel ES).
    """
    alpha = 1.0 - _check_confidence(confidence)
    x, v, s = _es_inputs(losses, var, es)
    hit = x > v
    return float(1.0 - np.sum(np.where(hit, x / s, 0.0)) / (x.size * alpha))


@dataclass(frozen=True, slots=True, kw_only=True)
class ESBacktestResult:
    """Expected-shortfall backtest.

    Attributes
    ----------
    n, exceptions : int
        Observations and VaR exceptions (``L_t > VaR_t``).
    confidence : float
        ``q``.
    z2 : float
        Acerbi & Szekely's ``Z2`` (0 under the null; negative: ES understated).
    p_value : float
        Monte-Carlo p-value ``(1 + #{Z2_sim <= z2}) / (n_sims + 1)`` under the null law
        ``null`` (see :func:`es_backtest`); NaN when ``n_sims = 0``.
    n_sims, seed : int
        Simulations and the seed of the generator.
    null : str
        ``'normal'`` or ``'student_t(dof)'``.
    published_zone : Zone or None
        Zone from A&S's published thresholds for the 97.5 % ES (``Z2 > -0.70`` green, ``> -1.8``
        yellow, else red), None at other confidence levels.
    mean_exceedance_ratio : float
        Mean of ``L_t / ES_t`` over the exceptions (1 when ES is right on average, > 1 when
        understated); NaN without exceptions.
    mean_loss_beyond_var : float
        Mean realized loss on the exceptions (the loss beyond VaR, i.e. given VaR is exceeded).
    mean_predicted_es : float
        Mean ES forecast on the exceptions.
    """

    n: int
    exceptions: int
    confidence: float
    z2: float
    p_value: float
    n_sims: int
    seed: int
    null: str
    published_zone: Zone | None
    mean_exceedance_ratio: float
    mean_loss_beyond_var: float
    mean_predicted_es: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "n": self.n, "exceptions": self.exceptions, "confidence": self.confidence,
            "z2": _jf(self.z2), "p_value": _jf(self.p_value), "n_sims": self.n_sims, "seed": self.seed,
            "null": self.null,
            "published_zone": None if self.published_zone is None else self.published_zone.value,
            "mean_exceedance_ratio": _jf(self.mean_exceedance_ratio),
            "mean_loss_beyond_var": _jf(self.mean_loss_beyond_var),
            "mean_predicted_es": _jf(self.mean_predicted_es),
        }


def _standard_tail(q: float, dof: float | None) -> tuple[float, float]:
    """Upper-tail VaR and ES at ``q`` of the standard normal (``dof`` None) or Student-t(``dof``)."""
    if dof is None:
        v = float(stats.norm.ppf(q))
        return v, float(stats.norm.pdf(v) / (1.0 - q))
    v = float(stats.t.ppf(q, dof))
    return v, float(stats.t.pdf(v, dof) / (1.0 - q) * (dof + v * v) / (dof - 1.0))


def es_backtest(
    losses: npt.ArrayLike,
    var: npt.ArrayLike,
    es: npt.ArrayLike,
    confidence: float,
    *,
    n_sims: int = 10_000,
    seed: int = 0,
    null: str = "student_t",
    dof: float = 5.0,
) -> ESBacktestResult:
    """Expected-shortfall backtest: Acerbi & Szekely's ``Z2`` with a Monte-Carlo p-value.

    The p-value is simulated under the null that each loss follows a location-scale law
    ``L_t = m_t + s_t Y`` whose VaR and ES at ``q`` equal the forecasts (``s_t = (ES_t - VaR_t) /
    (ES_Y - VaR_Y)``, ``m_t = VaR_t - s_t VaR_Y``), with ``Y`` standard normal or Student-t.
    Why simulation rather than the published critical values: those (``-0.70`` at 5 %, ``-1.8``
    at 0.01 %, :data:`AS_Z2_THRESHOLDS_975`) are for the 97.5 % ES and ``T = 250`` only; the
    simulation works for any ``q`` and ``T`` and reproduces the thresholds' insensitivity to the
    tail shape (A&S find the ``Z2`` null law nearly distribution-free), so the choice of ``Y``
    matters little; the published thresholds are still reported (``published_zone``) at 97.5 %.

    Parameters
    ----------
    losses : array_like, shape (T,)
        Realized losses, positive when money is lost (e.g. the adverse price move, a fraction).
    var, es : array_like, shape (T,) or scalar
        VaR and ES forecasts at ``confidence`` made before each loss, positive, ``es >= var``,
        ``es > 0``.
    confidence : float
        ``q``.
    n_sims : int, default 10000
        Monte-Carlo samples of ``Z2`` under the null (0: no p-value).
    seed : int, default 0
        Seed of ``numpy.random.default_rng``.
    null : {'student_t', 'normal'}, default 'student_t'
        Shape of ``Y``.
    dof : float, default 5.0
        Degrees of freedom of the Student-t null, > 2.

    Returns
    -------
    ESBacktestResult
    """
    q = _check_confidence(confidence)
    x, v, s = _es_inputs(losses, var, es)
    n_sims = _check_count("n_sims", n_sims, 0)
    if null not in ("student_t", "normal"):
        raise ValueError(f"null must be 'student_t' or 'normal', got {null!r}")
    if null == "student_t" and not (isinstance(dof, int | float) and dof > 2):
        raise ValueError(f"dof must be > 2, got {dof!r}")
    z2 = acerbi_szekely_z2(x, v, s, q)
    hit = x > v
    k = int(np.count_nonzero(hit))
    p_value = math.nan
    label = "normal" if null == "normal" else f"student_t({float(dof):g})"
    if n_sims:
        d = None if null == "normal" else float(dof)
        vy, ey = _standard_tail(q, d)
        scale = (s - v) / (ey - vy)
        loc = v - scale * vy
        rng = np.random.default_rng(seed)
        alpha, T = 1.0 - q, x.size
        below = 0
        chunk = max(1, min(n_sims, 2_000_000 // T))
        done = 0
        while done < n_sims:
            m = min(chunk, n_sims - done)
            y = rng.standard_normal((m, T)) if d is None else rng.standard_t(d, size=(m, T))
            tail = y > vy
            contrib = np.where(tail, (loc + scale * y) / s, 0.0)
            sims = 1.0 - contrib.sum(axis=1) / (T * alpha)
            below += int(np.count_nonzero(sims <= z2))
            done += m
        p_value = (1.0 + below) / (n_sims + 1.0)
    zone: Zone | None = None
    if abs(q - 0.975) < 1e-12:
        y5, y01 = AS_Z2_THRESHOLDS_975
        zone = Zone.GREEN if z2 > y5 else (Zone.YELLOW if z2 > y01 else Zone.RED)
    return ESBacktestResult(
        n=int(x.size), exceptions=k, confidence=q, z2=z2, p_value=float(p_value), n_sims=n_sims,
        seed=int(seed), null=label, published_zone=zone,
        mean_exceedance_ratio=float(np.mean(x[hit] / s[hit])) if k else math.nan,
        mean_loss_beyond_var=float(np.mean(x[hit])) if k else math.nan,
        mean_predicted_es=float(np.mean(s[hit])) if k else math.nan,
    )


# ---------------------------------------------------------------------------------------------
# adverse moves and the coverage report
# ---------------------------------------------------------------------------------------------


def adverse_moves(
    close: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    horizon_bars: int,
    side: str = "both",
) -> FloatArray:
    """Adverse excursion over the next ``horizon_bars`` bars, as a fraction of the close at ``t``.

    ``long_t = 1 - min(low[t+1 .. t+h]) / close[t]`` (a long loses when the price falls),
    ``short_t = max(high[t+1 .. t+h]) / close[t] - 1``; ``both`` is the larger of the two (the worse
    side of a two-sided perp margin). A margin ``m_t`` set at ``t`` (data up to ``t``) has an
    exception when ``adverse_t > m_t``; the exceedance is ``adverse_t - m_t``.

    Parameters
    ----------
    close, high, low : array_like, shape (n,)
        Bar prices in time order.
    horizon_bars : int
        ``h >= 1``.
    side : {'both', 'long', 'short'}

    Returns
    -------
    ndarray, shape (n,)
        NaN for the last ``h`` bars (their horizon is not complete).
    """
    h = _check_count("horizon_bars", horizon_bars, 1)
    c = np.asarray(close, dtype=float)
    hi = np.asarray(high, dtype=float)
    lo = np.asarray(low, dtype=float)
    if not (c.ndim == 1 and c.shape == hi.shape == lo.shape):
        raise ValueError("close, high and low must be one-dimensional arrays of the same length")
    if side not in ("both", "long", "short"):
        raise ValueError(f"side must be 'both', 'long' or 'short', got {side!r}")
    n = c.size
    out_long = np.full(n, np.nan)
    out_short = np.full(n, np.nan)
    if n > h:
        win_lo = np.lib.stride_tricks.sliding_window_view(lo[1:], h).min(axis=1)  # t = 0 .. n-h-1
        win_hi = np.lib.stride_tricks.sliding_window_view(hi[1:], h).max(axis=1)
        out_long[: n - h] = 1.0 - win_lo / c[: n - h]
        out_short[: n - h] = win_hi / c[: n - h] - 1.0
    if side == "long":
        return out_long
    if side == "short":
        return out_short
    return np.fmax(out_long, out_short)


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageStats:
    """Coverage statistics of one sample of observations.

    Attributes
    ----------
    label : str
        ``'non_overlapping'`` or ``'overlapping'``.
    dependent : bool
        True for overlapping observations: the tests' independence assumption fails, so their
        p-values and zone are descriptive only.
    offset, step : int
        The sample is observations ``offset, offset + step, ...`` (``step = 1``: all).
    n, exceptions : int
        Observations and exceptions.
    expected : float
        ``n (1 - q)``.
    rate : float
        ``exceptions / n`` (NaN for ``n = 0``).
    kupiec, christoffersen, zone
        The tests (None when ``n = 0``).
    largest_exceedance, mean_exceedance : float
        Largest and mean ``adverse move - margin`` over the exceptions (fraction of price); NaN
        without exceptions or exceedances.
    average_margin : float
        Mean margin over the sample (the capital cost beside the coverage); NaN without margins.
    """

    label: str
    dependent: bool
    offset: int
    step: int
    n: int
    exceptions: int
    expected: float
    rate: float
    kupiec: TestResult | None
    christoffersen: ChristoffersenResult | None
    zone: Zone | None
    largest_exceedance: float
    mean_exceedance: float
    average_margin: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "label": self.label, "dependent": self.dependent, "offset": self.offset, "step": self.step,
            "n": self.n, "exceptions": self.exceptions, "expected": _jf(self.expected), "rate": _jf(self.rate),
            "kupiec": None if self.kupiec is None else self.kupiec.to_dict(),
            "christoffersen": None if self.christoffersen is None else self.christoffersen.to_dict(),
            "zone": None if self.zone is None else self.zone.value,
            "largest_exceedance": _jf(self.largest_exceedance), "mean_exceedance": _jf(self.mean_exceedance),
            "average_margin": _jf(self.average_margin),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class OffsetSummary:
    """The non-overlapping subsample starting at ``offset``: counts, Kupiec p-value and zone."""

    offset: int
    n: int
    exceptions: int
    kupiec_p_value: float
    zone: Zone | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"offset": self.offset, "n": self.n, "exceptions": self.exceptions,
                "kupiec_p_value": _jf(self.kupiec_p_value), "zone": None if self.zone is None else self.zone.value}


@dataclass(frozen=True, slots=True, kw_only=True)
class PeriodStats:
    """Coverage in one calendar year or window.

    ``n``, ``exceptions``, ``rate``, the exceedances and ``average_margin`` use all (overlapping)
    observations in the period; ``n_independent``, ``exceptions_independent``, ``kupiec_p_value`` and
    ``zone`` use the offset-0 non-overlapping subsample inside it. ``start``/``end`` are ISO-8601.
    """

    name: str
    start: str
    end: str
    n: int
    exceptions: int
    expected: float
    rate: float
    n_independent: int
    exceptions_independent: int
    kupiec_p_value: float
    zone: Zone | None
    largest_exceedance: float
    mean_exceedance: float
    average_margin: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "name": self.name, "start": self.start, "end": self.end, "n": self.n, "exceptions": self.exceptions,
            "expected": _jf(self.expected), "rate": _jf(self.rate), "n_independent": self.n_independent,
            "exceptions_independent": self.exceptions_independent, "kupiec_p_value": _jf(self.kupiec_p_value),
            "zone": None if self.zone is None else self.zone.value,
            "largest_exceedance": _jf(self.largest_exceedance), "mean_exceedance": _jf(self.mean_exceedance),
            "average_margin": _jf(self.average_margin),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageReport:
    """Coverage of a margin series: see :func:`coverage_report` and the module docstring.

    Attributes
    ----------
    confidence : float
        ``q``.
    horizon_bars : int
        ``h``: the margin's horizon; non-overlapping samples take every ``h``-th observation.
    non_overlapping : CoverageStats
        The headline: offset 0 (observations ``0, h, 2h, ...``).
    offsets : tuple of OffsetSummary
        All ``h`` non-overlapping subsamples (offset 0 first).
    overlapping : CoverageStats
        All observations (``dependent=True`` when ``h > 1``).
    by_year, by_window : tuple of PeriodStats
        Breakdowns (empty without dates).
    method : str
        One sentence on the handling of overlap, for reports.
    """

    confidence: float
    horizon_bars: int
    non_overlapping: CoverageStats
    offsets: tuple[OffsetSummary, ...]
    overlapping: CoverageStats
    by_year: tuple[PeriodStats, ...] = field(default_factory=tuple)
    by_window: tuple[PeriodStats, ...] = field(default_factory=tuple)
    method: str = ""

    @property
    def offset_exception_range(self) -> tuple[int, int]:
        """Smallest and largest exception count over the ``h`` offsets."""
        xs = [o.exceptions for o in self.offsets]
        return min(xs), max(xs)

    @property
    def worst_offset_zone(self) -> Zone | None:
        """The worst traffic-light zone over the ``h`` offsets."""
        zs = [o.zone for o in self.offsets if o.zone is not None]
        return max(zs, key=lambda z: z.rank) if zs else None

    @property
    def min_offset_kupiec_p_value(self) -> float:
        """The smallest Kupiec p-value over the ``h`` offsets (a sensitivity, not a test)."""
        ps = [o.kupiec_p_value for o in self.offsets if not math.isnan(o.kupiec_p_value)]
        return min(ps) if ps else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (no numpy types; NaN as None)."""
        lo, hi = self.offset_exception_range
        worst = self.worst_offset_zone
        return {
            "confidence": self.confidence,
            "horizon_bars": self.horizon_bars,
            "method": self.method,
            "non_overlapping": self.non_overlapping.to_dict(),
            "offsets": [o.to_dict() for o in self.offsets],
            "offset_summary": {
                "exceptions_min": lo, "exceptions_max": hi,
                "kupiec_p_value_min": _jf(self.min_offset_kupiec_p_value),
                "worst_zone": None if worst is None else worst.value,
            },
            "overlapping": self.overlapping.to_dict(),
            "by_year": [p.to_dict() for p in self.by_year],
            "by_window": [p.to_dict() for p in self.by_window],
        }


def _exceedance_stats(exc: BoolArray, exceed: FloatArray | None) -> tuple[float, float]:
    if exceed is None:
        return math.nan, math.nan
    vals = exceed[exc]
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return math.nan, math.nan
    return float(vals.max()), float(vals.mean())


def _mean(a: FloatArray | None) -> float:
    if a is None:
        return math.nan
    v = a[np.isfinite(a)]
    return float(v.mean()) if v.size else math.nan


def _sample_stats(
    label: str, dependent: bool, offset: int, step: int, exc: BoolArray, q: float,
    exceed: FloatArray | None, margins: FloatArray | None,
) -> CoverageStats:
    n = int(exc.size)
    x = int(np.count_nonzero(exc))
    largest, mean_ex = _exceedance_stats(exc, exceed)
    return CoverageStats(
        label=label, dependent=dependent, offset=offset, step=step, n=n, exceptions=x,
        expected=n * (1.0 - q), rate=x / n if n else math.nan,
        kupiec=kupiec_pof(n, x, q) if n else None,
        christoffersen=christoffersen(exc, q) if n else None,
        zone=traffic_light(n, x, q) if n else None,
        largest_exceedance=largest, mean_exceedance=mean_ex, average_margin=_mean(margins),
    )


def _window_triplets(windows: Iterable[Any]) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    out = []
    for w in windows:
        if isinstance(w, tuple | list):
            if len(w) != 3:
                raise ValueError(f"a window must be (name, start, end), got {w!r}")
            name, start, end = w
        else:  # an object with name / start / end (e.g. liquidation.StressWindow)
            name, start, end = w.name, w.start, w.end
        s, e = _utc(start), _utc(end)
        if e < s:
            raise ValueError(f"window {name!r} ends ({e.isoformat()}) before it starts ({s.isoformat()})")
        out.append((str(name), s, e))
    return out


def _utc(ts: Any) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _period_stats(
    name: str, start: pd.Timestamp, end: pd.Timestamp, mask: BoolArray, indep: BoolArray, exc: BoolArray,
    q: float, exceed: FloatArray | None, margins: FloatArray | None,
) -> PeriodStats:
    e = exc[mask]
    n, x = int(e.size), int(np.count_nonzero(e))
    ei = exc[mask & indep]
    ni, xi = int(ei.size), int(np.count_nonzero(ei))
    largest, mean_ex = _exceedance_stats(e, None if exceed is None else exceed[mask])
    return PeriodStats(
        name=name, start=iso_z(start), end=iso_z(end), n=n, exceptions=x,
        expected=n * (1.0 - q), rate=x / n if n else math.nan, n_independent=ni, exceptions_independent=xi,
        kupiec_p_value=kupiec_pof(ni, xi, q).p_value if ni else math.nan,
        zone=traffic_light(ni, xi, q) if ni else None,
        largest_exceedance=largest, mean_exceedance=mean_ex,
        average_margin=_mean(None if margins is None else margins[mask]),
    )


def coverage_report(
    exceptions: npt.ArrayLike,
    confidence: float,
    *,
    horizon_bars: int,
    dates: Sequence[Any] | pd.DatetimeIndex | npt.ArrayLike | None = None,
    exceedances: npt.ArrayLike | None = None,
    margins: npt.ArrayLike | None = None,
    windows: Iterable[Any] = (),
) -> CoverageReport:
    """Coverage of a margin series, with the overlap of ``h``-bar horizons handled explicitly.

    Parameters
    ----------
    exceptions : array_like of bool, shape (n,)
        ``exceptions[t]``: the adverse move over the ``h`` bars after ``t`` exceeded the margin set
        at ``t``. Observations whose horizon is incomplete must be left out by the caller.
    confidence : float
        Confidence level ``q`` the margin targets.
    horizon_bars : int
        ``h >= 1``: the margin period of risk in bars.
    dates : array_like of datetime, shape (n,), optional
        Observation times (naive times are read as UTC); needed for ``by_year`` and ``by_window``.
    exceedances : array_like of float, shape (n,), optional
        ``adverse move - margin`` (fraction of price); used on exceptions only.
    margins : array_like of float, shape (n,), optional
        The margin in force (fraction), for the average margin (capital cost).
    windows : iterable, optional
        ``(name, start, end)`` triples (inclusive) or objects with ``name``, ``start``, ``end``
        (e.g. :class:`riskparams.liquidation.StressWindow`); requires ``dates``.

    Returns
    -------
    CoverageReport
        See the module docstring ("Overlapping horizons") for what each part means.
    """
    exc = _as_bool(exceptions)
    n = int(exc.size)
    if n < 1:
        raise ValueError("exceptions must hold at least one observation")
    q = _check_confidence(confidence)
    h = _check_count("horizon_bars", horizon_bars, 1)
    exceed = _as_float(exceedances, n, "exceedances")
    marg = _as_float(margins, n, "margins")
    pos = np.arange(n)

    def sub(a: FloatArray | None, idx: npt.NDArray[np.intp]) -> FloatArray | None:
        return None if a is None else a[idx]

    idx0 = pos[0::h]
    primary = _sample_stats("non_overlapping", False, 0, h, exc[idx0], q, sub(exceed, idx0), sub(marg, idx0))
    offsets = []
    for k in range(min(h, n)):
        e = exc[k::h]
        x = int(np.count_nonzero(e))
        offsets.append(OffsetSummary(offset=k, n=int(e.size), exceptions=x,
                                     kupiec_p_value=kupiec_pof(int(e.size), x, q).p_value,
                                     zone=traffic_light(int(e.size), x, q)))
    overlapping = _sample_stats("overlapping", h > 1, 0, 1, exc, q, exceed, marg)

    by_year: list[PeriodStats] = []
    by_window: list[PeriodStats] = []
    wins = _window_triplets(windows)
    if dates is not None:
        idx = dates if isinstance(dates, pd.DatetimeIndex) else pd.DatetimeIndex(np.asarray(dates))
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        if len(idx) != n:
            raise ValueError(f"dates must have length {n} like exceptions, got {len(idx)}")
        indep = (pos % h) == 0
        years = np.asarray(idx.year)
        for yr in np.unique(years):
            mask = years == yr
            first, last = idx[mask][0], idx[mask][-1]
            by_year.append(_period_stats(str(int(yr)), first, last, mask, indep, exc, q, exceed, marg))
        for name, w_start, w_end in wins:
            mask = np.asarray((idx >= w_start) & (idx <= w_end))
            by_window.append(_period_stats(name, w_start, w_end, mask, indep, exc, q, exceed, marg))
    elif wins:
        raise ValueError("windows need dates")

    method = (
        f"Tests use every {h}-th observation from the first (offset 0) so that {h}-bar horizons do not "
        f"overlap; the {min(h, n)} possible offsets are summarised beside it. "
        + ("Overlapping statistics use all observations, which are dependent: their p-values and zone "
           "are descriptive only." if h > 1 else "With a one-bar horizon all observations are used.")
    )
    return CoverageReport(
        confidence=q, horizon_bars=h, non_overlapping=primary, offsets=tuple(offsets),
        overlapping=overlapping, by_year=tuple(by_year), by_window=tuple(by_window), method=method,
    )
