"""Risk measures and horizon arithmetic: pure numpy/scipy, no model fitting.

Sign conventions
----------------
All inputs are **log returns** (fractions). Value-at-Risk and Expected Shortfall are reported
as positive numbers for both tails, at confidence ``q`` (e.g. 0.99), tail probability
``p = 1 - q``:

* lower tail (a long position loses): ``VaR = -Q_R(p)``, ``ES = -E[R | R <= Q_R(p)]``;
* upper tail (a short position loses): ``VaR = Q_R(q)``, ``ES = E[R | R >= Q_R(q)]``.

As a fraction of the price the same quantile is a move of ``1 - exp(-VaR)`` (lower tail) or
``exp(VaR) - 1`` (upper tail); see :func:`log_to_price_move`. Expected Shortfall is mapped
through the same transform (the price move at the tail-average log return). That differs from
the tail average of price moves by Jensen's inequality (it is larger for the lower tail and
smaller for the upper one) and, unlike the latter, stays finite under Student-t tails.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from riskparams._lazy import LazyModule
from riskparams.returns import bars_per_year

integrate: Any = LazyModule("scipy.integrate")
stats: Any = LazyModule("scipy.stats")

__all__ = [
    "HorizonRisk",
    "Tail",
    "TailRisk",
    "annualise_vol",
    "empirical_var_es",
    "garch_horizon_variance",
    "impact_cost",
    "log_to_price_move",
    "mean_daily_value",
    "mse_loss",
    "normal_var_es",
    "parametric_risk",
    "ppf_var_es",
    "qlike_loss",
    "student_t_var_es",
    "tail_risk_from_samples",
    "unit_ppf",
]

FloatArray = npt.NDArray[np.float64]


class Tail(StrEnum):
    """Which side of the return distribution hurts: ``lower`` for longs, ``upper`` for shorts."""

    LOWER = "lower"
    UPPER = "upper"


def _check_confidence(q: float) -> float:
    if not (isinstance(q, int | float) and 0.5 < float(q) < 1.0):
        raise ValueError(f"confidence must be in (0.5, 1), got {q!r}")
    return float(q)


def log_to_price_move(x: float, tail: Tail | str) -> float:
    """Map a positive log-return magnitude to a fraction of price.

    Parameters
    ----------
    x : float
        Size of the log move (e.g. a VaR), >= 0 in the adverse direction.
    tail : {'lower', 'upper'}
        ``lower``: the price falls by ``1 - exp(-x)`` (bounded by 1);
        ``upper``: the price rises by ``exp(x) - 1``.

    Returns
    -------
    float
        Fraction of the starting price.
    """
    t = tail if tail.__class__ is Tail else Tail(tail)
    if not math.isfinite(x):
        return x
    if t is Tail.LOWER:
        return float(-math.expm1(-x))
    return float(math.expm1(x)) if x < 700 else math.inf


@dataclass(frozen=True, slots=True)
class TailRisk:
    """VaR and ES of one tail, in log-return units and as fractions of price.

    Attributes
    ----------
    var_log, es_log : float
        Positive log-return VaR and ES (fractions).
    var_price, es_price : float
        The same as fractions of the starting price (see :func:`log_to_price_move`).
    """

    var_log: float
    es_log: float
    var_price: float
    es_price: float

    @classmethod
    def from_log(cls, var_log: float, es_log: float, tail: Tail | str) -> TailRisk:
        """Build from log-return VaR and ES, computing the price fractions."""
        return cls(
            var_log=float(var_log),
            es_log=float(es_log),
            var_price=log_to_price_move(float(var_log), tail),
            es_price=log_to_price_move(float(es_log), tail),
        )

    def scaled(self, factor: float, tail: Tail | str) -> TailRisk:
        """Log-return VaR and ES multiplied by ``factor``; price fractions recomputed."""
        return TailRisk.from_log(self.var_log * factor, self.es_log * factor, tail)


@dataclass(frozen=True, slots=True)
class HorizonRisk:
    """Two-sided VaR/ES of the h-period log return from one method.

    Attributes
    ----------
    method : str
        ``'fitted'`` (the model's distribution) or ``'fhs'`` (filtered historical simulation).
    confidence : float
        Confidence level ``q``.
    lower, upper : TailRisk
        Lower-tail (long) and upper-tail (short) risk.
    """

    method: str
    confidence: float
    lower: TailRisk
    upper: TailRisk

    @property
    def worse_tail(self) -> Tail:
        """The tail with the larger VaR as a fraction of price."""
        return Tail.UPPER if self.upper.var_price > self.lower.var_price else Tail.LOWER

    @property
    def var(self) -> float:
        """Worse-tail VaR, fraction of price."""
        return max(self.lower.var_price, self.upper.var_price)

    @property
    def es(self) -> float:
        """Worse-tail ES, fraction of price (the larger of the two tails' ES)."""
        return max(self.lower.es_price, self.upper.es_price)

    def scaled(self, factor: float) -> HorizonRisk:
        """Both tails' log-return measures multiplied by ``factor``."""
        return HorizonRisk(
            method=self.method,
            confidence=self.confidence,
            lower=self.lower.scaled(factor, Tail.LOWER),
            upper=self.upper.scaled(factor, Tail.UPPER),
        )

    def to_dict(self) -> dict[str, object]:
        """Plain dictionary (floats and strings only)."""
        return {
            "method": self.method,
            "confidence": self.confidence,
            "lower": {k: getattr(self.lower, k) for k in ("var_log", "es_log", "var_price", "es_price")},
            "upper": {k: getattr(self.upper, k) for k in ("var_log", "es_log", "var_price", "es_price")},
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> HorizonRisk:
        """Inverse of :meth:`to_dict` (``None`` read back as NaN)."""

        def tr(x: object) -> TailRisk:
            assert isinstance(x, dict)
            return TailRisk(**{k: math.nan if v is None else float(v) for k, v in x.items()})

        conf = d["confidence"]
        assert isinstance(conf, int | float)
        return cls(
            method=str(d["method"]), confidence=float(conf), lower=tr(d["lower"]), upper=tr(d["upper"])
        )


def empirical_var_es(
    samples: npt.ArrayLike, confidence: float, tail: Tail | str = Tail.LOWER
) -> tuple[float, float]:
    """Empirical VaR and ES of one tail from a sample of log returns.

    Parameters
    ----------
    samples : array_like, shape (n,)
        Log returns (e.g. simulated h-period returns). NaNs are ignored.
    confidence : float
        ``q`` in (0.5, 1).
    tail : {'lower', 'upper'}

    Returns
    -------
    (var, es) : tuple of float
        Positive numbers in log-return units. VaR is the linearly interpolated sample
        quantile (numpy's default); ES is the mean of the samples at or beyond it, so
        ``es >= var`` always.
    """
    q = _check_confidence(confidence)
    x = np.asarray(samples, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("samples must contain at least one finite value")
    if Tail(tail) is Tail.LOWER:
        cut = float(np.quantile(x, 1.0 - q))
        return -cut, -float(x[x <= cut].mean())
    cut = float(np.quantile(x, q))
    return cut, float(x[x >= cut].mean())


def tail_risk_from_samples(samples: npt.ArrayLike, confidence: float, method: str) -> HorizonRisk:
    """Two-sided :class:`HorizonRisk` from simulated h-period log returns."""
    lo = empirical_var_es(samples, confidence, Tail.LOWER)
    up = empirical_var_es(samples, confidence, Tail.UPPER)
    return HorizonRisk(
        method=method,
        confidence=float(confidence),
        lower=TailRisk.from_log(*lo, Tail.LOWER),
        upper=TailRisk.from_log(*up, Tail.UPPER),
    )


def normal_var_es(
    sigma: float, confidence: float, mu: float = 0.0, tail: Tail | str = Tail.LOWER
) -> tuple[float, float]:
    """Closed-form VaR and ES of a normal log return ``N(mu, sigma**2)``.

    With ``z = Phi^-1(q)``: lower tail ``VaR = z*sigma - mu``, ``ES = phi(z)/(1-q)*sigma - mu``;
    upper tail ``VaR = z*sigma + mu``, ``ES = phi(z)/(1-q)*sigma + mu``.
    """
    q = _check_confidence(confidence)
    z, k = _normal_unit(q)
    sign = -1.0 if Tail(tail) is Tail.LOWER else 1.0
    return z * sigma + sign * mu, k * sigma + sign * mu


def student_t_var_es(
    sigma: float,
    confidence: float,
    nu: float,
    mu: float = 0.0,
    tail: Tail | str = Tail.LOWER,
    *,
    standardized: bool = True,
) -> tuple[float, float]:
    """Closed-form VaR and ES of a Student-t log return.

    ``R = mu + s*T`` with ``T ~ t(nu)``. If ``standardized`` (the GARCH convention: unit
    variance innovations), ``s = sigma*sqrt((nu-2)/nu)`` so that ``sd(R) = sigma`` (needs
    ``nu > 2``); otherwise ``s = sigma``. With ``t = t_nu^-1(q)``, ``f`` the t(nu) density:
    ``VaR = s*t -/+ mu`` and ``ES = s * f(t)/(1-q) * (nu + t**2)/(nu - 1) -/+ mu``
    (McNeil, Frey & Embrechts 2015, Example 2.15).
    """
    q = _check_confidence(confidence)
    if standardized and not nu > 2:
        raise ValueError(f"nu must be > 2 for a standardized Student-t, got {nu!r}")
    if not nu > 1:
        raise ValueError(f"nu must be > 1 for a finite ES, got {nu!r}")
    s = sigma * math.sqrt((nu - 2.0) / nu) if standardized else sigma
    t, es_std = _t_unit(q, float(nu))
    sign = -1.0 if Tail(tail) is Tail.LOWER else 1.0
    return s * t + sign * mu, s * es_std + sign * mu


@functools.lru_cache(maxsize=4096)
def _normal_unit(q: float) -> tuple[float, float]:
    """``(z, phi(z) / (1 - q))`` of the standard normal at ``q`` (remembered: replays ask for the same few)."""
    z = float(stats.norm.ppf(q))
    return z, float(stats.norm.pdf(z)) / (1.0 - q)


@functools.lru_cache(maxsize=4096)
def _t_unit(q: float, nu: float) -> tuple[float, float]:
    """``(t, f(t) / (1 - q) * (nu + t^2) / (nu - 1))`` of the Student-t(``nu``) at ``q`` (remembered)."""
    t = float(stats.t.ppf(q, nu))
    return t, float(stats.t.pdf(t, nu)) / (1.0 - q) * (nu + t * t) / (nu - 1.0)


def unit_ppf(nu: float | None) -> Callable[[FloatArray], FloatArray]:
    """Vectorised quantile function of a unit-variance innovation: the standardized Student-t(``nu``)
    (``t_nu^-1(u) sqrt((nu - 2) / nu)``, ``nu > 2``) or, with ``nu`` None, the standard normal.

    >>> round(float(unit_ppf(None)(np.array([0.975]))[0]), 4)
    1.96
    """
    if nu is None:
        return _normal_ppf
    scale = math.sqrt((nu - 2.0) / nu)

    def ppf(u: FloatArray) -> FloatArray:
        return np.asarray(stats.t.ppf(u, nu), dtype=float) * scale

    return ppf


def _normal_ppf(u: FloatArray) -> FloatArray:
    return np.asarray(stats.norm.ppf(u), dtype=float)


def parametric_risk(mu: float, sigma: float, confidence: float, nu: float | None = None) -> HorizonRisk:
    """VaR and ES of both tails of ``R = mu + sigma Z`` (``Z`` a unit-variance Student-t(``nu``), or
    normal with ``nu`` None) in closed form (:func:`student_t_var_es`, :func:`normal_var_es`), as the
    ``'fitted'`` :class:`HorizonRisk`."""
    tails = {}
    for tail in (Tail.LOWER, Tail.UPPER):
        if nu is None:
            v, e = normal_var_es(sigma, confidence, mu, tail)
        else:
            v, e = student_t_var_es(sigma, confidence, nu, mu, tail)
        tails[tail] = TailRisk.from_log(v, e, tail)
    return HorizonRisk(method="fitted", confidence=confidence, lower=tails[Tail.LOWER], upper=tails[Tail.UPPER])


def ppf_var_es(
    ppf: Callable[[FloatArray], FloatArray],
    confidence: float,
    mu: float = 0.0,
    sigma: float = 1.0,
    tail: Tail | str = Tail.LOWER,
) -> tuple[float, float]:
    """VaR and ES of ``R = mu + sigma*Z`` for any ``Z`` given by its quantile function.

    ES uses ``ES = (1/p) * integral of the quantile function over the tail`` (Acerbi &
    Tasche 2002), computed by adaptive quadrature.

    Parameters
    ----------
    ppf : callable
        Vectorised quantile function of the standardized innovation ``Z``.
    confidence : float
        ``q`` in (0.5, 1).
    mu, sigma : float
        Location and scale (log-return units).
    tail : {'lower', 'upper'}
    """
    q = _check_confidence(confidence)
    p = 1.0 - q

    def f(u: float) -> float:
        return float(np.asarray(ppf(np.array([u], dtype=float)), dtype=float)[0])

    if Tail(tail) is Tail.LOWER:
        zq = f(p)
        integral, _ = integrate.quad(f, 0.0, p, limit=200)
        return -(mu + sigma * zq), -(mu + sigma * integral / p)
    zq = f(q)
    integral, _ = integrate.quad(f, q, 1.0, limit=200)
    return mu + sigma * zq, mu + sigma * integral / p


def garch_horizon_variance(sigma2_next: float, omega: float, persistence: float, horizon: int) -> float:
    """Sum of GARCH(1,1)-type variance forecasts over ``horizon`` steps.

    For a process whose expected variance obeys ``E[s2(k+1)] = omega + phi*E[s2(k)]``
    (GARCH: ``phi = alpha + beta``; GJR: ``phi = alpha + kappa*gamma + beta``), with
    ``s2(1) = sigma2_next`` known::

        sum_{k=1..h} E[s2(k)] = omega * (h - G(h)) / (1 - phi) + sigma2_next * G(h),
        G(h) = sum_{j=0..h-1} phi**j = (1 - phi**h) / (1 - phi).

    This form has no ``omega / (1 - phi)`` term, so it stays finite as ``phi -> 1``, where
    ``G(h) -> h`` and ``(h - G(h))/(1 - phi) -> h(h-1)/2`` (used when ``|1 - phi| < 1e-7``,
    with the first-order correction; relative error of order ``(1 - phi)**2 * h**2``).

    Parameters
    ----------
    sigma2_next : float
        One-step-ahead conditional variance (any consistent unit).
    omega : float
        Intercept of the variance recursion (same unit).
    persistence : float
        ``phi`` >= 0 (values >= 1 are accepted: the forecast then grows).
    horizon : int
        Number of steps ``h`` >= 1.

    Returns
    -------
    float
        Variance of the h-step sum of returns (ignoring autocorrelation), same unit.
    """
    h = int(horizon)
    if h < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon!r}")
    phi = float(persistence)
    d = 1.0 - phi
    if abs(d) < 1e-7:
        # Taylor expansion around phi = 1 (d = 1 - phi):
        # G(h) = h - d*h(h-1)/2 + O(d^2);  (h - G(h))/d = h(h-1)/2 - d*h(h-1)(h-2)/6 + O(d^2)
        g = h - d * h * (h - 1) / 2.0
        s = h * (h - 1) / 2.0 - d * h * (h - 1) * (h - 2) / 6.0
    else:
        if phi > 0:
            g = -math.expm1(h * math.log(phi)) / d
        else:
            g = 1.0  # phi == 0: only the first term survives
        s = (h - g) / d
    return omega * s + sigma2_next * g


def annualise_vol(vol: float | npt.ArrayLike, freq: str) -> float | FloatArray:
    """Per-bar volatility to annualised volatility: ``vol * sqrt(bars_per_year(freq))``."""
    factor = math.sqrt(bars_per_year(freq))
    if np.ndim(vol) == 0:
        return float(vol) * factor  # type: ignore[arg-type]
    return np.asarray(vol, dtype=float) * factor


def qlike_loss(proxy: npt.ArrayLike, forecast: npt.ArrayLike) -> FloatArray:
    """QLIKE loss of variance forecasts: ``log(h) + proxy/h`` (Patton 2011), elementwise.

    Robust to noise in the variance proxy (e.g. squared returns) in Patton's sense; lower is
    better. ``forecast`` must be > 0.
    """
    h = np.asarray(forecast, dtype=float)
    y = np.asarray(proxy, dtype=float)
    return np.asarray(np.log(h) + y / h, dtype=float)


def mse_loss(proxy: npt.ArrayLike, forecast: npt.ArrayLike) -> FloatArray:
    """Squared error of variance forecasts, ``(proxy - h)**2``, elementwise."""
    return np.asarray((np.asarray(proxy, dtype=float) - np.asarray(forecast, dtype=float)) ** 2, dtype=float)


def mean_daily_value(values: npt.ArrayLike, bar_hours: float, window_days: int) -> float:
    """ADV: the mean daily traded value of the last ``window_days`` days of bars.

    Parameters
    ----------
    values : array_like, shape (n,)
        Traded value of each bar (``volume * close``, quote currency) in time order, up to the bar the
        ADV is as of; NaN where unknown.
    bar_hours : float
        Length of a bar in hours.
    window_days : int
        Days averaged: the last ``round(window_days * 24 / bar_hours)`` bars (at least one).

    Returns
    -------
    float
        Total known value / days the known bars cover (hourly bars are summed per day); NaN when no
        bar of the window has a value.
    """
    bars = max(1, int(round(window_days * 24 / bar_hours)))
    tail = np.asarray(values, dtype=float)[-bars:]
    ok = np.isfinite(tail)
    if not ok.any():
        return math.nan
    return float(np.sum(tail[ok]) / (ok.sum() * bar_hours / 24.0))


def impact_cost(
    notional: float | npt.ArrayLike,
    adv: float,
    sigma_daily: float,
    *,
    k: float = 1.0,
    half_spread: float = 0.0,
) -> float | FloatArray:
    """Close-out cost by the square-root impact law, as a fraction of notional.

    ``cost(N) = half_spread + k * sigma_daily * sqrt(N / ADV)``

    Parameters
    ----------
    notional : float or array_like
        Position size ``N`` (quote currency, e.g. USD), >= 0.
    adv : float
        Average daily traded value (same currency), > 0.
    sigma_daily : float
        Daily volatility (fraction), >= 0.
    k : float, default 1.0
        Impact coefficient (dimensionless, typically of order 1), >= 0.
    half_spread : float, default 0.0
        Half the bid-ask spread (fraction), >= 0.

    Returns
    -------
    float or ndarray
        Cost as a fraction of ``N``; an array if ``notional`` is one.
    """
    if not (math.isfinite(adv) and adv > 0):
        raise ValueError(f"adv must be a finite number > 0, got {adv!r}")
    for name, v in (("sigma_daily", sigma_daily), ("k", k), ("half_spread", half_spread)):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    if isinstance(notional, float | int):  # one number: no array overhead (called per tier and decision)
        x = float(notional)
        if not (math.isfinite(x) and x >= 0):
            raise ValueError("notional must be finite and >= 0")
        return half_spread + k * sigma_daily * math.sqrt(x / adv)
    n = np.asarray(notional, dtype=float)
    if np.any(~np.isfinite(n)) or np.any(n < 0):
        raise ValueError("notional must be finite and >= 0")
    cost = half_spread + k * sigma_daily * np.sqrt(n / adv)
    return float(cost) if cost.ndim == 0 else cost
