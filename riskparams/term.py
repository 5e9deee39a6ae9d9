"""Horizon distributions: quantile grids of the h-period log return, and their term structure.

Pure numpy on values; no fitting (the volatility layer builds these, the policy math reads them).

:class:`HorizonQuantiles` is the distribution of the log return over one horizon as a grid of
quantiles, with a CDF by interpolation and power-law tails beyond the grid, and its VaR and
expected shortfall (:meth:`HorizonQuantiles.tail_measure`). :class:`RiskTerm` holds such grids at
several horizons (whole bars of the series) for up to three methods, so a policy can read the
distribution at **any** horizon in hours, one per margin tier:

* ``fitted``: the fitted conditional model's law (analytic for one bar, simulated paths beyond);
* ``fhs``: filtered historical simulation (the model's standardized residuals bootstrapped through
  its variance recursion);
* ``empirical``: plain historical simulation, the overlapping ``k``-bar log returns of the history
  (unconditional: it ignores today's volatility).

Between the stored horizons the distribution is interpolated **linearly in variance** at every
probability level: with ``s(x) = sign(x) x**2``, the quantile at ``tau`` bars between stored
``b0 < tau < b1`` is ``s^-1((1 - w) s(Q_b0) + w s(Q_b1))``, ``w = (tau - b0) / (b1 - b0)``. Below
one bar (``b0 = 0``, ``Q_0 = 0``) this is exactly **square-root-of-time scaling** of the one-bar law,
``Q_tau = sqrt(tau) Q_1``: a horizon shorter than a bar of the series is computed from the bar's
law by an explicit scaling that :meth:`RiskTerm.basis` names, never rounded up to a bar. (On the
shared Binance data the empirical 99% ES of 4-hour moves is 1.87-2.02 times that of 1-hour moves,
against sqrt(4) = 2: square-root-of-time holds at these scales; below an hour it is an assumption.)

A longer horizon never has a thinner tail: at construction each method's quantiles are made
monotone across horizons (below the median the running minimum, above it the running maximum), so
VaR and ES are non-decreasing in the horizon. This only binds when a forecast expects volatility to
fall quickly over the horizon, or on sampling noise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from riskparams.exceptions import SpecError
from riskparams.measures import Tail

__all__ = [
    "TERM_BARS",
    "HorizonQuantiles",
    "RiskTerm",
    "TermMethod",
    "quantile_levels",
    "term_bars",
]

FloatArray = npt.NDArray[np.float64]


_TAIL_LEVELS: tuple[float, ...] = tuple(
    sorted(
        {round(float(p), 12) for p in np.geomspace(1e-4, 0.5, 41)}
        | {1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25}
    )
)


def quantile_levels(confidence: float | None = None, n_samples: int | None = None) -> FloatArray:
    """Probability levels of a :class:`HorizonQuantiles` grid, shape (m,), strictly increasing.

    Tail probabilities ``p`` are 41 geometrically spaced values from 1e-4 to 0.5 plus the usual
    levels (0.1%, 0.25%, 0.5%, 1%, 2.5%, 5%, 10%, 25%); the grid holds every ``p`` and ``1 - p``,
    and ``1 - confidence`` and ``confidence`` when given (so the CDF is exact at the VaR level).
    For a sample of ``n_samples`` draws, levels below ``1 / n_samples`` or above
    ``1 - 1 / n_samples`` are left out: the sample says nothing about them, and the tail
    extrapolation of :meth:`HorizonQuantiles.cdf` takes over there.
    """
    return np.asarray(_levels(None if confidence is None else float(confidence),
                              None if n_samples is None else int(n_samples)), dtype=float)


@functools.lru_cache(maxsize=256)
def _levels(confidence: float | None, n_samples: int | None) -> tuple[float, ...]:
    ps = set(_TAIL_LEVELS)
    if confidence is not None:
        ps.add(round(1.0 - float(confidence), 12))
    levels = sorted({round(p, 12) for p in ps} | {round(1.0 - p, 12) for p in ps})
    out = np.asarray(levels, dtype=float)
    if n_samples is not None and n_samples > 0:
        lo = 1.0 / float(n_samples)
        out = out[(out >= lo - 1e-15) & (out <= 1.0 - lo + 1e-15)]
    return tuple(out.tolist())


def _anchor(tail_levels: FloatArray, p0: float) -> int:
    """Index of the grid point that anchors the power tail beyond the extreme one (tail probability ``p0``):
    the other point whose tail probability is closest to ``min(10 p0, 0.25)`` (never the extreme itself)."""
    d = np.abs(tail_levels - min(10.0 * p0, 0.25))
    d[np.abs(tail_levels - p0) <= 1e-15] = np.inf  # np.isclose(rtol=0, atol=1e-15), without its overhead
    return int(np.argmin(d))


@dataclass(frozen=True, slots=True)
class HorizonQuantiles:
    """The distribution of the h-period log return as a grid of quantiles.

    Made by :func:`fit_returns` from the same source as the headline VaR/ES (the fitted
    distribution: analytic for one bar, the same Monte-Carlo paths for more; or filtered
    historical simulation; ``risk_method='max'`` takes the worse of the two at every level:
    the lower of the two quantiles below the median, the higher above it).

    Attributes
    ----------
    levels : tuple of float, shape (m,)
        Probability levels, strictly increasing in (0, 1), m >= 4.
    values : tuple of float, shape (m,)
        Quantiles of the h-period **log return** (fractions) at ``levels``, non-decreasing.
    method : str
        ``'fitted'``, ``'fhs'`` or ``'max'``.

    Notes
    -----
    The CDF is linear interpolation of ``levels`` against ``values`` inside the grid. Beyond
    it, each tail is extrapolated as a power (Pareto) tail around the median ``M``: below the
    lowest quantile ``v_0`` (level ``p_0``), ``F(x) = p_0 * ((M - v_0) / (M - x)) ** a``, with
    the tail index ``a`` fitted through ``(v_0, p_0)`` and the grid point whose level is
    closest to ``min(10 p_0, 0.25)``, clipped to [0.5, 50]; the upper tail is the mirror
    image with ``1 - F``. A power tail decays more slowly than the normal one, so beyond the
    grid the probability of a large move is, if anything, overstated (coverage understated).
    """

    levels: tuple[float, ...]
    values: tuple[float, ...]
    method: str = "fitted"
    _arrays: list[FloatArray] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        lv = np.asarray(self.levels, dtype=float)
        vv = np.asarray(self.values, dtype=float)
        if lv.ndim != 1 or lv.shape != vv.shape or lv.size < 4:
            raise SpecError(f"levels and values must be 1-d of equal length >= 4, got {lv.shape} and {vv.shape}")
        if not (np.all(np.isfinite(lv)) and np.all((lv > 0) & (lv < 1)) and np.all(np.diff(lv) > 0)):
            raise SpecError("levels must be strictly increasing in (0, 1)")
        if not np.all(np.isfinite(vv)):
            raise ValueError("values must be finite")
        vv = np.maximum.accumulate(vv)  # sample quantiles are monotone up to rounding
        object.__setattr__(self, "levels", tuple(lv.tolist()))
        object.__setattr__(self, "values", tuple(vv.tolist()))

    # -- evaluation --------------------------------------------------------------------------
    def _grid(self) -> tuple[FloatArray, FloatArray]:
        """(values, levels) without ties, cached. A run of equal values (a bootstrap sample's extremes repeat)
        keeps the level farthest from the median: the lowest below it, the highest above it, so no
        probability is pushed past the sample's own extremes into the extrapolated tails."""
        if len(self._arrays) < 3:
            v = np.asarray(self.values, dtype=float)
            p = np.asarray(self.levels, dtype=float)
            first = np.concatenate([[True], np.diff(v) > 0])
            last = np.concatenate([np.diff(v) > 0, [True]])
            med = float(np.interp(0.5, p, v))
            # one index per run of equal values: its first below the median, its last above it
            starts = np.flatnonzero(first)
            ends = np.flatnonzero(last)
            idx = np.where(v[starts] > med, ends, starts)
            vg, pg = v[idx], p[idx]
            self._arrays[:] = [vg, pg, self._tail_params(vg, pg)]  # one assignment: threads may race here
        return self._arrays[0], self._arrays[1]

    @staticmethod
    def _tail_index(d0: float, d1: float, p0: float, p1: float) -> float:
        if not (d0 > d1 > 0 and p1 > p0 > 0):
            return 1.0
        a = math.log(p1 / p0) / math.log(d0 / d1)
        return float(min(max(a, 0.5), 50.0)) if math.isfinite(a) else 1.0

    def cdf(self, x: float | npt.ArrayLike) -> float | FloatArray:
        """``P(R <= x)`` for the h-period log return ``R`` (see the class notes for the tails).

        Parameters
        ----------
        x : float or array_like
            Log return(s), fractions; ``-inf`` and ``inf`` are allowed.

        Returns
        -------
        float or ndarray
            Probabilities in [0, 1], same shape as ``x``.
        """
        if isinstance(x, float | int):
            return self._cdf_scalar(float(x))
        scalar = np.ndim(x) == 0
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        v, p = self._grid()
        out = np.asarray(np.interp(xs, v, p), dtype=float)
        if v.size < 2:  # a point mass
            out = np.where(xs < v[0], 0.0, 1.0)
            return float(out[0]) if scalar else out
        med = float(np.interp(0.5, p, v))
        lo_mask, hi_mask = xs < v[0], xs > v[-1]
        if np.any(lo_mask):
            j = _anchor(p, p[0])
            a = self._tail_index(med - v[0], med - v[j], p[0], p[j])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = (med - v[0]) / (med - xs[lo_mask])
            tail = np.where(np.isfinite(ratio) & (ratio > 0), p[0] * np.power(np.clip(ratio, 0, 1), a), 0.0)
            out[lo_mask] = tail if med > v[0] else 0.0
        if np.any(hi_mask):
            q0 = 1.0 - p[-1]
            j = _anchor(1.0 - p, q0)
            a = self._tail_index(v[-1] - med, v[j] - med, q0, 1.0 - p[j])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = (v[-1] - med) / (xs[hi_mask] - med)
            tail = np.where(np.isfinite(ratio) & (ratio > 0), q0 * np.power(np.clip(ratio, 0, 1), a), 0.0)
            out[hi_mask] = 1.0 - tail if v[-1] > med else 1.0
        out = np.clip(out, 0.0, 1.0)
        return float(out[0]) if scalar else out

    @classmethod
    def _tail_params(cls, v: FloatArray, p: FloatArray) -> FloatArray:
        """(median, lowest value, its level, lower tail index, highest value, its tail probability, upper tail
        index, grid size) of a tie-free grid, as :meth:`cdf` computes them."""
        med = float(np.interp(0.5, p, v))
        a_lo = a_hi = 1.0
        if v.size >= 2:
            j = _anchor(p, p[0])
            a_lo = cls._tail_index(med - v[0], med - v[j], p[0], p[j])
            q0 = 1.0 - p[-1]
            j = _anchor(1.0 - p, q0)
            a_hi = cls._tail_index(v[-1] - med, v[j] - med, q0, 1.0 - p[j])
        return np.asarray([med, v[0], p[0], a_lo, v[-1], 1.0 - p[-1], a_hi, v.size], dtype=float)

    def _tails(self) -> tuple[float, ...]:
        """:meth:`_tail_params` of this grid, cached with it."""
        self._grid()
        return tuple(self._arrays[2].tolist())

    def _cdf_scalar(self, x: float) -> float:
        """:meth:`cdf` of one number (the same formulas, without array overhead: replays call it per tier and
        decision)."""
        med, v0, p0, a_lo, v1, q0, a_hi, size = self._tails()
        if size < 2:
            return 0.0 if x < v0 else 1.0
        if x < v0:
            if not med > v0:
                return 0.0
            ratio = (med - v0) / (med - x)
            if not (math.isfinite(ratio) and ratio > 0):
                return 0.0
            return min(max(p0 * float(np.power(min(ratio, 1.0), a_lo)), 0.0), 1.0)  # np.power as cdf
        if x > v1:
            if not v1 > med:
                return 1.0
            ratio = (v1 - med) / (x - med) if x != med else math.inf
            if not (math.isfinite(ratio) and ratio > 0):
                return 1.0
            return min(max(1.0 - q0 * float(np.power(min(ratio, 1.0), a_hi)), 0.0), 1.0)
        v, p = self._grid()
        return min(max(float(np.interp(x, v, p)), 0.0), 1.0)

    def ppf(self, level: float | npt.ArrayLike) -> float | FloatArray:
        """Quantile of ``R`` at ``level`` in (0, 1): the inverse of :meth:`cdf` (the same
        interpolation inside the grid and the same power tails outside it)."""
        scalar = np.ndim(level) == 0
        ps = np.atleast_1d(np.asarray(level, dtype=float))
        if np.any(~((ps > 0) & (ps < 1))):
            raise ValueError("level must be in (0, 1)")
        v, p = self._grid()
        out = np.asarray(np.interp(ps, p, v), dtype=float)
        if v.size >= 2:
            med = float(np.interp(0.5, p, v))
            lo_mask, hi_mask = ps < p[0], ps > p[-1]
            if np.any(lo_mask):
                j = _anchor(p, p[0])
                a = self._tail_index(med - v[0], med - v[j], p[0], p[j])
                out[lo_mask] = med - (med - v[0]) * np.power(p[0] / ps[lo_mask], 1.0 / a)
            if np.any(hi_mask):
                q0 = 1.0 - p[-1]
                j = _anchor(1.0 - p, q0)
                a = self._tail_index(v[-1] - med, v[j] - med, q0, 1.0 - p[j])
                out[hi_mask] = med + (v[-1] - med) * np.power(q0 / (1.0 - ps[hi_mask]), 1.0 / a)
        return float(out[0]) if scalar else out

    def prob_move_within(self, move: float, tail: Tail | str) -> float:
        """Probability that the adverse **price** move over the horizon is at most ``move``.

        Parameters
        ----------
        move : float
            Price move as a fraction of the starting price (0.05 = 5 %); may be negative.
        tail : {'lower', 'upper'}
            ``lower`` (a long loses when the price falls): ``P(1 - exp(R) <= move) =
            1 - F(ln(1 - move))``, 1 when ``move >= 1``. ``upper`` (a short loses when the price
            rises): ``P(exp(R) - 1 <= move) = F(ln(1 + move))``, 0 when ``move <= -1``.
        """
        b = float(move)
        if Tail(tail) is Tail.LOWER:
            if b >= 1.0:
                return 1.0
            return float(1.0 - float(self.cdf(math.log1p(-b))))
        if b <= -1.0:
            return 0.0
        return float(self.cdf(math.log1p(b)))

    def tail_measure(self, confidence: float, measure: str, tail: Tail | str) -> float:
        """Positive log-return VaR (``measure='var'``) or expected shortfall (``'es'``) of one tail.

        VaR is ``-Q(1 - q)`` (lower tail) or ``Q(q)`` (upper). ES is the average quantile beyond it,
        ``-(1 / (1 - q)) * integral_0^(1-q) Q(u) du`` for the lower tail and the mirror image for the
        upper one, computed exactly for this grid's model of the distribution: piecewise-linear
        quantiles inside the grid and the power tail of :meth:`cdf` beyond it (whose mean is finite
        for a tail index above 1; an index fitted at or below 1.1 is taken as 1.1).

        Parameters
        ----------
        confidence : float
            ``q`` in (0.5, 1).
        measure : {'var', 'es'}
        tail : {'lower', 'upper'}
        """
        q = float(confidence)
        if not 0.5 < q < 1.0:
            raise ValueError(f"confidence must be in (0.5, 1), got {confidence!r}")
        m = str(getattr(measure, "value", measure)).lower()
        if m not in ("var", "es"):
            raise ValueError(f"measure must be 'var' or 'es', got {measure!r}")
        v, p = self._grid()
        if Tail(tail) is Tail.UPPER:  # the upper tail of R is the lower tail of -R
            v, p = -v[::-1], 1.0 - p[::-1]
        alpha = 1.0 - q
        med = float(np.interp(0.5, p, v))
        p0, v0 = float(p[0]), float(v[0])
        j = _anchor(p, p0)
        a = self._tail_index(med - v0, med - float(v[j]), p0, float(p[j])) if v.size >= 2 else 50.0
        a = max(a, 1.1)
        if alpha <= p0:
            var = med - (med - v0) * (p0 / alpha) ** (1.0 / a) if med > v0 else v0
            if m == "var":
                return float(-var)
            if med <= v0:
                return float(-v0)
            integral = alpha * med - (med - v0) * p0 ** (1.0 / a) * alpha ** (1.0 - 1.0 / a) / (1.0 - 1.0 / a)
            return float(-integral / alpha)
        var = float(np.interp(alpha, p, v))
        if m == "var":
            return float(-var)
        integral = p0 * med - (med - v0) * p0 / (1.0 - 1.0 / a) if med > v0 else p0 * v0
        inside = p < alpha
        pp = np.concatenate([p[inside], [alpha]])
        vv = np.concatenate([v[inside], [var]])
        integral += float(np.sum(0.5 * (vv[1:] + vv[:-1]) * np.diff(pp)))
        return float(-integral / alpha)

    # -- transformations ---------------------------------------------------------------------
    def scaled(self, factor: float) -> HorizonQuantiles:
        """Quantiles of ``factor * R`` (``factor > 0``)."""
        c = float(factor)
        return HorizonQuantiles(self.levels, tuple(c * x for x in self.values), self.method)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary ``{"method", "levels", "values"}``."""
        return {"method": self.method, "levels": list(self.levels), "values": list(self.values)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HorizonQuantiles:
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(float(x) for x in d["levels"]), tuple(float(x) for x in d["values"]), str(d["method"]))

    @classmethod
    def from_samples(
        cls, samples: npt.ArrayLike, confidence: float | None = None, method: str = "fitted"
    ) -> HorizonQuantiles:
        """Grid of the sample quantiles (numpy's linear interpolation) of simulated log returns,
        at :func:`quantile_levels` for that sample size."""
        x = np.asarray(samples, dtype=float).ravel()
        x = x[np.isfinite(x)]
        if x.size < 4:
            raise ValueError(f"need at least 4 finite samples, got {x.size}")
        levels = quantile_levels(confidence, x.size)
        return cls(tuple(levels), tuple(np.quantile(x, levels)), method)

    @classmethod
    def from_ppf(
        cls,
        ppf: Callable[[FloatArray], FloatArray],
        mu: float,
        sigma: float,
        confidence: float | None = None,
        method: str = "fitted",
    ) -> HorizonQuantiles:
        """Grid of ``mu + sigma * Z`` for a standardized innovation ``Z`` given by its vectorised
        quantile function (analytic one-bar distributions)."""
        levels = quantile_levels(confidence)
        return cls.from_unit(levels, np.asarray(ppf(levels), dtype=float), mu, sigma, method)

    @classmethod
    def from_unit(cls, levels: FloatArray, z: FloatArray, mu: float, sigma: float,
                  method: str = "fitted") -> HorizonQuantiles:
        """Grid of ``mu + sigma * Z`` from the standardized quantiles ``z`` of ``Z`` at ``levels`` (both shape
        (m,)): :meth:`from_ppf` with the quantile function evaluated once for many grids."""
        return cls(tuple(levels.tolist()), tuple(mu + sigma * z), method)

    @staticmethod
    def envelope(a: HorizonQuantiles, b: HorizonQuantiles) -> HorizonQuantiles:
        """The worse of two grids at their common levels: the lower quantile below the median,
        the higher above it (``method='max'``)."""
        common = sorted(set(a.levels) & set(b.levels))
        va = dict(zip(a.levels, a.values, strict=True))
        vb = dict(zip(b.levels, b.values, strict=True))
        vals = [min(va[p], vb[p]) if p < 0.5 else max(va[p], vb[p]) for p in common]
        return HorizonQuantiles(tuple(common), tuple(vals), "max")


# ---------------------------------------------------------------------------------------------
# the term structure
# ---------------------------------------------------------------------------------------------

TERM_BARS: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 72, 96, 144, 192, 288, 384, 576, 720)
"""Horizons (bars) at which a :class:`RiskTerm` stores grids, up to its longest horizon."""


def term_bars(max_bars: int) -> tuple[int, ...]:
    """Stored horizons for a term up to ``max_bars`` bars: :data:`TERM_BARS` below it, then ``max_bars``."""
    if not (isinstance(max_bars, int | np.integer) and max_bars >= 1):
        raise ValueError(f"max_bars must be an integer >= 1, got {max_bars!r}")
    return tuple(b for b in TERM_BARS if b < max_bars) + (int(max_bars),)


class TermMethod(StrEnum):
    """Where a horizon distribution comes from: the fitted law, filtered historical simulation, or
    plain (empirical) historical simulation."""

    FITTED = "fitted"
    FHS = "fhs"
    EMPIRICAL = "empirical"


def _signed_square(x: FloatArray) -> FloatArray:
    return np.sign(x) * x * x


def _signed_root(v: FloatArray) -> FloatArray:
    return np.sign(v) * np.sqrt(np.abs(v))


def _common_levels() -> FloatArray:
    return quantile_levels(None)


@dataclass(frozen=True, slots=True, eq=False)
class RiskTerm:
    """Distributions of the log return over several horizons, per method (see the module docstring).

    Attributes
    ----------
    bar_hours : float
        Hours per bar of the series the term was built from.
    bars : tuple of int, shape (m,)
        Stored horizons in bars, strictly increasing, starting at 1.
    variances : tuple of float, shape (m,)
        The fitted model's **sum of the 1..k-step variance forecasts** at each stored horizon
        (fraction squared): the horizon variance of the fitted law.
    grids : Mapping[str, tuple[HorizonQuantiles, ...]]
        Method name (:class:`TermMethod`) -> one grid per stored horizon, all on the same levels,
        monotone across horizons (build with :meth:`from_grids`).
    law : str
        Human description of the fitted law, e.g. ``'garch-t (nu 3.24)'``.
    """

    bar_hours: float
    bars: tuple[int, ...]
    variances: tuple[float, ...]
    grids: Mapping[str, tuple[HorizonQuantiles, ...]]
    law: str = ""
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_grids(
        cls,
        bar_hours: float,
        bars: Sequence[int],
        variances: Sequence[float],
        grids: Mapping[str, Sequence[HorizonQuantiles]],
        law: str = "",
    ) -> RiskTerm:
        """Build a term: every grid is re-evaluated on the common levels and made monotone across
        horizons (the running extreme of each quantile away from the median).

        Raises
        ------
        ValueError
            Bars not strictly increasing from 1, a method with the wrong number of grids, or
            non-finite / non-positive variances.
        """
        bh = float(bar_hours)
        if not (math.isfinite(bh) and bh > 0):
            raise ValueError(f"bar_hours must be > 0, got {bar_hours!r}")
        b = tuple(int(x) for x in bars)
        if not b or b[0] != 1 or any(b[i] <= b[i - 1] for i in range(1, len(b))):
            raise ValueError(f"bars must be strictly increasing from 1, got {list(bars)}")
        v = np.maximum.accumulate(np.asarray(variances, dtype=float))
        if v.shape != (len(b),) or not (np.all(np.isfinite(v)) and np.all(v >= 0)):
            raise ValueError("variances must be finite and >= 0, one per stored horizon")
        levels = _common_levels()
        below = levels < 0.5
        out: dict[str, tuple[HorizonQuantiles, ...]] = {}
        for name, gs in grids.items():
            method = TermMethod(name).value
            if len(gs) != len(b):
                raise ValueError(f"method {method!r} has {len(gs)} grids for {len(b)} horizons")
            vals = np.vstack([np.asarray(g.ppf(levels), dtype=float) for g in gs])  # (m, L)
            vals[:, below] = np.minimum.accumulate(vals[:, below], axis=0)
            vals[:, ~below] = np.maximum.accumulate(vals[:, ~below], axis=0)
            out[method] = tuple(HorizonQuantiles(tuple(levels), tuple(row), method) for row in vals)
        if not out:
            raise ValueError("a term needs at least one method")
        return cls(bh, b, tuple(float(x) for x in v), MappingProxyType(out), str(law))

    # -- reading --------------------------------------------------------------------------------
    @property
    def methods(self) -> tuple[str, ...]:
        """The methods this term holds (subset of ``fitted``, ``fhs``, ``empirical``)."""
        return tuple(self.grids)

    @property
    def max_hours(self) -> float:
        """The longest horizon the term covers, hours."""
        return self.bars[-1] * self.bar_hours

    def _bars_of(self, hours: float) -> float:
        h = float(hours)
        if not (math.isfinite(h) and h > 0):
            raise ValueError(f"horizon must be a finite number of hours > 0, got {hours!r}")
        tau = h / self.bar_hours
        if tau > self.bars[-1] * (1 + 1e-9):
            raise ValueError(f"horizon {h:g}h is beyond the term structure ({self.max_hours:g}h)")
        return min(tau, float(self.bars[-1]))

    def _bracket(self, tau: float) -> tuple[int, int, float]:
        """Indexes into ``(0, *bars)`` of the stored horizons around ``tau`` and the weight of the upper one."""
        ext = (0, *self.bars)
        j = int(np.searchsorted(np.asarray(ext, dtype=float), tau - 1e-12, side="left"))
        j = max(1, min(j, len(ext) - 1))
        lo, hi = ext[j - 1], ext[j]
        w = 1.0 if abs(tau - hi) <= 1e-9 * max(1.0, hi) else (tau - lo) / (hi - lo)
        return j - 1, j, float(min(max(w, 0.0), 1.0))

    def basis(self, hours: float) -> str:
        """How the distribution at ``hours`` is obtained, in words (for rationales and exports)."""
        tau = self._bars_of(hours)
        _i, j, w = self._bracket(tau)
        hi = self.bars[j - 1]
        bar = f"{self.bar_hours:g}h bars"
        if w >= 1.0:
            return f"{hi} bar{'s' if hi > 1 else ''} of {bar}"
        if j == 1:
            return f"square-root-of-time from one bar ({self.bar_hours:g}h): x sqrt({tau:.3g})"
        lo = self.bars[j - 2]
        return f"variance-interpolated between {lo} and {hi} bars of {bar}"

    def quantiles(self, method: TermMethod | str, hours: float) -> HorizonQuantiles:
        """The distribution of the log return over ``hours`` from ``method``.

        Raises
        ------
        ValueError
            Unknown method for this term, or a horizon beyond :attr:`max_hours`.
        """
        m = TermMethod(method).value
        if m not in self.grids:
            raise ValueError(f"the term has no {m!r} distribution (it has {', '.join(self.grids)})")
        tau = self._bars_of(hours)
        key = (m, round(tau, 12))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        i, j, w = self._bracket(tau)
        g = self.grids[m]
        upper = np.asarray(g[j - 1].values, dtype=float)
        if w >= 1.0:
            out = g[j - 1]
        else:
            lower = np.zeros_like(upper) if i == 0 else np.asarray(g[i - 1].values, dtype=float)
            v = (1.0 - w) * _signed_square(lower) + w * _signed_square(upper)
            out = HorizonQuantiles(g[j - 1].levels, tuple(_signed_root(v)), m)
        self._cache[key] = out
        return out

    def variance(self, hours: float) -> float:
        """The fitted law's horizon variance over ``hours`` (fraction squared), linear between stored
        horizons and from 0 at 0 hours."""
        tau = self._bars_of(hours)
        i, j, w = self._bracket(tau)
        hi = self.variances[j - 1]
        lo = 0.0 if i == 0 else self.variances[i - 1]
        return float((1.0 - w) * lo + w * hi)

    def memo(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        """``make()`` remembered under ``key`` for this term (a term is immutable: whatever is a function of it
        and of ``key`` alone may be kept here; keys start with the caller's name)."""
        try:
            return self._cache[key]
        except KeyError:
            out = self._cache[key] = make()
            return out

    def tail_measure(self, method: TermMethod | str, hours: float, confidence: float, measure: str,
                     tail: Tail | str) -> float:
        """Positive log-return VaR (``measure='var'``) or ES (``'es'``) of one tail over ``hours``.

        Remembered per term (a term is immutable): a policy replay and every sweep variant sharing the
        estimate ask for the same few measures at every decision."""
        key = ("tail", str(getattr(method, "value", method)), float(hours), float(confidence),
               str(getattr(measure, "value", measure)), str(getattr(tail, "value", tail)))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self.quantiles(method, hours).tail_measure(confidence, measure, tail)
        return float(hit)

    # -- serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary; the (shared) levels are stored once."""
        first = next(iter(self.grids.values()))[0]
        return {
            "bar_hours": self.bar_hours, "bars": list(self.bars), "variances": list(self.variances),
            "law": self.law, "levels": list(first.levels),
            "grids": {m: [list(g.values) for g in gs] for m, gs in self.grids.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RiskTerm:
        """Inverse of :meth:`to_dict`."""
        levels = tuple(float(x) for x in d["levels"])
        grids = {
            m: tuple(HorizonQuantiles(levels, tuple(float(x) for x in vals), m) for vals in rows)
            for m, rows in d["grids"].items()
        }
        return cls(float(d["bar_hours"]), tuple(int(b) for b in d["bars"]),
                   tuple(float(v) for v in d["variances"]), MappingProxyType(grids), str(d.get("law", "")))

    def scaled(self, factor: float) -> RiskTerm:
        """The term of returns multiplied by ``factor`` (> 0): quantiles x factor, variances x factor**2."""
        c = float(factor)
        grids = {m: tuple(g.scaled(c) for g in gs) for m, gs in self.grids.items()}
        return RiskTerm(self.bar_hours, self.bars, tuple(v * c * c for v in self.variances),
                        MappingProxyType(grids), self.law)


def parametric_term(
    bar_hours: float,
    bars: Sequence[int],
    variances: Sequence[float],
    ppf: Callable[[FloatArray], FloatArray],
    *,
    mu_per_bar: float = 0.0,
    law: str = "",
    extra: Mapping[str, Sequence[HorizonQuantiles]] | None = None,
) -> RiskTerm:
    """A term whose fitted law at ``k`` bars is ``k mu + sqrt(V_k) Z`` for a unit-variance law ``Z``
    given by its quantile function (exact for one bar of a conditionally t or normal model; for more
    bars an approximation: a sum of GARCH returns is not of the one-bar family).

    Parameters
    ----------
    bar_hours : float
    bars : sequence of int
        Stored horizons (see :func:`term_bars`).
    variances : sequence of float
        Summed variance forecasts at each stored horizon, fraction squared.
    ppf : callable
        Vectorised quantile function of the unit-variance innovation.
    mu_per_bar : float
        Mean log return per bar (fraction).
    extra : mapping, optional
        Other methods' grids (e.g. ``empirical``), one per stored horizon.
    """
    fitted = [HorizonQuantiles.from_ppf(ppf, k * mu_per_bar, math.sqrt(v), None, TermMethod.FITTED.value)
              for k, v in zip(bars, variances, strict=True)]
    grids: dict[str, Sequence[HorizonQuantiles]] = {TermMethod.FITTED.value: fitted}
    grids.update(dict(extra or {}))
    return RiskTerm.from_grids(bar_hours, bars, variances, grids, law)


def empirical_grids(returns: npt.ArrayLike, bars: Sequence[int]) -> tuple[HorizonQuantiles, ...]:
    """Historical-simulation grids: the sample quantiles of the overlapping ``k``-bar sums of
    ``returns`` (log returns, fractions, in time order) for each ``k`` in ``bars``.

    Raises
    ------
    ValueError
        Fewer than 4 sums at the longest horizon.
    """
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    c = np.concatenate([[0.0], np.cumsum(r)])
    out = []
    for k in bars:
        k = int(k)
        sums = c[k:] - c[:-k]
        if sums.size < 4:
            raise ValueError(f"{r.size} returns give {sums.size} sums of {k} bars; need at least 4")
        out.append(HorizonQuantiles.from_samples(sums, None, TermMethod.EMPIRICAL.value))
    return tuple(out)
