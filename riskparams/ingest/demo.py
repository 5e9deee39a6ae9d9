"""Synthetic demo universe: hourly and daily OHLCV bars for crypto-like perpetuals.

The dashboard seeds this universe on first start when the store is empty and ``riskparams demo`` writes it.
It is **not market data**: every symbol ends in ``-SYN`` and the source label is ``"synthetic"``. The
generator is pure numpy/pandas, deterministic for a seed (``numpy.random.default_rng(seed)``, a fixed draw
order, a fixed calendar that never depends on today's date) and takes well under a second.

Model
-----
Hourly log returns are simulated for all assets at once on a continuous 24/7 UTC clock, then aggregated to
UTC calendar days, so the daily high and low come from a real intraday path and the hourly and daily bars of
an asset agree exactly. For asset ``i`` and hour ``t``::

    r[t, i] = beta_i * (sqrt(v_M[t]) * z_M[t] + J_M[t] + C[t])      common market factor
            + sqrt(v_i[t]) * z_i[t] + J_i[t]                        idiosyncratic part
    v[t]    = min(g[t]**2 * h[t], VARIANCE_CAP * s**2) + B[t] * s**2   (for v_M and each v_i)

* **Volatility clustering**: ``h_M`` and ``h_i`` are GARCH(1,1) variances,
  ``h[t+1] = omega + alpha * h[t] * z[t]**2 + beta * h[t]`` with ``omega = (1 - alpha - beta) * s**2``,
  started at ``s**2``, so that the long-run hourly variance is ``s**2 = sigma_ann**2 / 8760``. Parameters
  differ by asset (:data:`MARKET` and :data:`ASSETS`: hourly ``alpha`` 0.05-0.075, persistence
  ``alpha + beta`` 0.995-0.997, i.e. a half-life of 6-10 days). A guard caps each ``h``, and ``g**2 * h``,
  at :data:`VARIANCE_CAP` times its long-run value ``s**2``.
* **Multi-scale volatility**: ``g = exp(x - sd_x**2)`` is a slow log-volatility regime common to all assets
  (``x`` an hourly Gaussian AR(1) with a half-life of ``regime_half_life_days`` and stationary standard
  deviation ``sd_x = regime_sd``; the shift keeps ``E[g**2] = 1``). ``B`` is the post-crash variance boost
  (below).
* **Fat tails**: ``z`` are Student-t innovations scaled to unit variance, degrees of freedom ``nu`` 4-6.
* **Jumps**: ``J_M`` and ``J_i`` are compound Poisson with an intensity in jumps per year and sizes
  ``scale * t(3)`` (log-return units) truncated at ``+-JUMP_CLIP`` scales; at most
  :data:`MAX_JUMPS_PER_HOUR` jumps are counted in one hour (more has a probability below 1e-12 per hour).
* **Cross-asset correlation**: the common factor enters each asset with its beta (1.0 for BTC-SYN, 1.15-1.45
  for the others). With the default parameters daily-return correlations come out about 0.7-0.8 between
  BTC-SYN and ETH-SYN and 0.4-0.7 between majors and alts.
* **Market-wide crash**: ``C`` is a deterministic drift on the market factor summing to
  ``ln(1 + CRASH_DROP)`` (-40% for a beta-1 asset such as BTC-SYN, -44% to -52% for the beta 1.15-1.45
  alts, before the ordinary noise of those hours), spread over :data:`CRASH_HOURS` hours from 00:00 UTC on
  the crash day with a Gaussian profile (about four fifths of it on the first day). From the end of the
  crash every component gets the extra variance ``B[t] * s**2`` with
  ``B[t] = CRASH_VOL_BOOST**2 * exp(-(t - t_end) / tau)``, tau = :data:`CRASH_VOL_DECAY_DAYS` days: the
  volatility right after the crash is at least ``CRASH_VOL_BOOST`` times its long-run level whatever the
  GARCH and regime states, then decays. The crash day is :data:`CRASH_DATE` when it lies inside the span,
  otherwise the day at 42% of it (:func:`demo_crash_date`).
* **Prices**: ``close = p0 * exp(cumsum(r))`` (zero log drift; realistic starting prices for 2021-01-01),
  ``open[t] = close[t-1]``. The high and low of an hour are the exact maximum and minimum of a Brownian
  bridge from 0 to ``r[t]`` with the hour's diffusive variance ``w = beta_i**2 * v_M + v_i``:
  ``M = (r + sqrt(r**2 - 2 w ln U)) / 2``
  with ``U ~ Uniform(0, 1)`` (and the mirror image for the minimum), clamped so that
  ``low <= min(open, close) <= max(open, close) <= high``.
* **Volume** (base-asset units, as Binance klines report it): the hourly quote notional is
  ``exp(kappa * ln(w[t] / mean(w)) + lambda * min(|r| / sqrt(w), 8) + u[t] + e[t]) * season(hour)`` with ``u`` an
  hourly AR(1) (half-life :data:`VOLUME_AR_HALF_LIFE_HOURS` hours, sd :data:`VOLUME_AR_SD`), ``e`` iid normal
  (sd :data:`VOLUME_NOISE_SD`), ``kappa`` = :data:`VOLUME_VOL_ELASTICITY`, ``lambda`` =
  :data:`VOLUME_ABS_RETURN_LOADING` and a diurnal ``season`` peaking at 15:00 UTC. It is rescaled so that the
  median daily quote notional equals the asset's ``adv_usd`` (BTC-SYN 12 bn USD ... INJ-SYN 30 m USD), then
  divided by the hour's typical price ``(high + low + close) / 3`` and rounded to a power-of-two grid fine
  enough (2**-51 of the largest daily volume) that hourly volumes sum to the daily volume exactly in any
  order. Volume is lognormal, never zero, and rises with volatility and absolute returns.

Measured on the default seed (checked in ``tests/test_demo.py``): annualised volatility of daily log
returns 0.56 for BTC-SYN and 0.75-1.02 for the others; excess kurtosis of daily returns 11-27 over the whole
span and 3-9 before the crash; lag-1 autocorrelation of absolute daily returns 0.25-0.36 before the crash
(0.31-0.33 for hourly returns); correlation of daily returns 0.76 for BTC-SYN/ETH-SYN and 0.47-0.76 for
the other pairs; crash day -48% (mean log return over assets) against -18% for the next worst day, and
-41% for BTC-SYN and -40% to -52% for the others over the two crash days; correlation of daily volume with
the absolute daily return 0.35-0.53; median daily traded notional 12 bn USD (BTC-SYN) down to 30 m USD
(INJ-SYN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

if TYPE_CHECKING:
    from riskparams.store import Store

__all__ = [
    "ASSETS",
    "CRASH_DATE",
    "MARKET",
    "SOURCE_LABEL",
    "AssetParams",
    "DemoSeries",
    "MarketParams",
    "demo_crash_date",
    "example_store",
    "generate_demo_universe",
    "random_walk_ohlc",
]

FloatArray = npt.NDArray[np.float64]

SOURCE_LABEL = "synthetic"
"""Source label under which the demo universe is stored."""

HOURS_PER_DAY = 24
HOURS_PER_YEAR = 24 * 365
MIN_DAYS = 30
"""Shortest span (days) accepted by :func:`generate_demo_universe`."""

CRASH_DATE = "2022-09-19"
"""UTC day on which the market-wide crash starts when it lies inside the generated span."""
CRASH_FALLBACK_FRACTION = 0.42
"""Position of the crash day in the span (fraction of ``days``) when :data:`CRASH_DATE` is outside it."""
CRASH_DROP = -0.40
"""Simple return of the crash for a beta-1 asset (BTC-SYN), before the ordinary noise of those hours."""
CRASH_HOURS = 36
"""Length of the crash drift (hours, starting 00:00 UTC on the crash day)."""
CRASH_PEAK_HOUR = 18.0
CRASH_WIDTH_HOURS = 7.0
"""Centre and width (hours) of the Gaussian profile of the crash drift over :data:`CRASH_HOURS`."""
CRASH_VOL_BOOST = 2.0
"""Extra volatility right after the crash, in units of each component's long-run volatility (added in
quadrature to the GARCH volatility; the extra variance decays exponentially)."""
CRASH_VOL_DECAY_DAYS = 14.0
"""E-folding time (days) of the post-crash extra variance."""

VARIANCE_CAP = 16.0
"""Guard: a GARCH variance, and its product with the regime factor, never exceeds this multiple of its
long-run variance (volatility at most 4x its long-run level, before the post-crash boost)."""
JUMP_CLIP = 5.0
"""Jump sizes are ``scale * t(3)`` truncated at this many scales."""
JUMP_TAIL_NU = 3.0
MAX_JUMPS_PER_HOUR = 3

VOLUME_VOL_ELASTICITY = 1.0
"""kappa: elasticity of hourly notional volume to the hour's diffusive variance."""
VOLUME_ABS_RETURN_LOADING = 0.25
"""lambda: log-volume loading on the hour's absolute standardized return (capped at 8)."""
VOLUME_AR_HALF_LIFE_HOURS = 48.0
VOLUME_AR_SD = 0.35
"""Half-life (hours) and stationary standard deviation of the persistent log-volume noise."""
VOLUME_NOISE_SD = 0.30
"""Standard deviation of the iid hourly log-volume noise."""
VOLUME_SEASON_AMPLITUDE = 0.35
VOLUME_SEASON_PEAK_HOUR = 15.0
"""Diurnal volume pattern ``1 + A cos(2 pi (hour - peak) / 24)`` (hours UTC)."""
VOLUME_GRID_BITS = 51
"""Hourly volumes are multiples of ``2**(ceil(log2(max daily volume)) - VOLUME_GRID_BITS)``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketParams:
    """Parameters of the common market factor.

    Attributes
    ----------
    sigma_ann : float
        Long-run annualised volatility of the diffusive factor (fraction, 0.55 = 55% per year).
    alpha, beta : float
        Hourly GARCH(1,1) coefficients (dimensionless, ``alpha + beta < 1``).
    nu : float
        Degrees of freedom of the Student-t innovations.
    jumps_per_year : float
        Intensity of the compound Poisson jumps (jumps per 365 days).
    jump_scale : float
        Scale of a jump (log-return units; sizes are ``jump_scale * t(3)`` truncated).
    regime_half_life_days : float
        Half-life of the slow log-volatility regime (days).
    regime_sd : float
        Stationary standard deviation of the log-volatility regime (log units).
    """

    sigma_ann: float
    alpha: float
    beta: float
    nu: float
    jumps_per_year: float
    jump_scale: float
    regime_half_life_days: float
    regime_sd: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetParams:
    """Parameters of one synthetic asset.

    Attributes
    ----------
    symbol : str
        Demo symbol, always ending in ``-SYN``.
    p0 : float
        Opening price of the first bar (USD per unit).
    beta : float
        Loading on the market factor (dimensionless; also scales the crash).
    idio_sigma_ann : float
        Long-run annualised volatility of the idiosyncratic diffusive part (fraction per year).
    alpha, beta_g : float
        Hourly GARCH(1,1) coefficients of the idiosyncratic variance.
    nu : float
        Degrees of freedom of the Student-t innovations.
    jumps_per_year : float
        Intensity of idiosyncratic jumps (jumps per 365 days).
    jump_scale : float
        Scale of an idiosyncratic jump (log-return units).
    adv_usd : float
        Median daily traded quote notional (USD per day).
    """

    symbol: str
    p0: float
    beta: float
    idio_sigma_ann: float
    alpha: float
    beta_g: float
    nu: float
    jumps_per_year: float
    jump_scale: float
    adv_usd: float


MARKET = MarketParams(
    sigma_ann=0.52,
    alpha=0.06,
    beta=0.937,
    nu=5.0,
    jumps_per_year=6.0,
    jump_scale=0.025,
    regime_half_life_days=60.0,
    regime_sd=0.40,
)
"""Default market-factor parameters."""

# fmt: off
ASSETS: tuple[AssetParams, ...] = (
    AssetParams(symbol="BTC-SYN", p0=29_000.0, beta=1.00, idio_sigma_ann=0.25, alpha=0.050, beta_g=0.946,
                nu=5.5, jumps_per_year=4.0, jump_scale=0.025, adv_usd=12e9),
    AssetParams(symbol="ETH-SYN", p0=730.0, beta=1.25, idio_sigma_ann=0.50, alpha=0.055, beta_g=0.940,
                nu=5.0, jumps_per_year=5.0, jump_scale=0.035, adv_usd=6e9),
    AssetParams(symbol="SOL-SYN", p0=1.50, beta=1.45, idio_sigma_ann=0.70, alpha=0.065, beta_g=0.930,
                nu=4.5, jumps_per_year=8.0, jump_scale=0.05, adv_usd=8e8),
    AssetParams(symbol="BNB-SYN", p0=37.4, beta=1.15, idio_sigma_ann=0.70, alpha=0.060, beta_g=0.935,
                nu=4.5, jumps_per_year=6.0, jump_scale=0.045, adv_usd=6e8),
    AssetParams(symbol="XRP-SYN", p0=0.22, beta=1.15, idio_sigma_ann=0.62, alpha=0.070, beta_g=0.925,
                nu=4.0, jumps_per_year=8.0, jump_scale=0.06, adv_usd=9e8),
    AssetParams(symbol="DOGE-SYN", p0=0.0047, beta=1.20, idio_sigma_ann=0.80, alpha=0.075, beta_g=0.920,
                nu=4.0, jumps_per_year=10.0, jump_scale=0.07, adv_usd=5e8),
    AssetParams(symbol="LINK-SYN", p0=11.3, beta=1.35, idio_sigma_ann=0.55, alpha=0.060, beta_g=0.935,
                nu=5.0, jumps_per_year=6.0, jump_scale=0.045, adv_usd=3e8),
    AssetParams(symbol="AVAX-SYN", p0=3.6, beta=1.45, idio_sigma_ann=0.65, alpha=0.065, beta_g=0.930,
                nu=4.5, jumps_per_year=7.0, jump_scale=0.05, adv_usd=2.5e8),
    AssetParams(symbol="AAVE-SYN", p0=88.0, beta=1.35, idio_sigma_ann=0.65, alpha=0.060, beta_g=0.935,
                nu=5.0, jumps_per_year=6.0, jump_scale=0.05, adv_usd=8e7),
    AssetParams(symbol="INJ-SYN", p0=2.5, beta=1.40, idio_sigma_ann=0.85, alpha=0.075, beta_g=0.920,
                nu=4.0, jumps_per_year=10.0, jump_scale=0.08, adv_usd=3e7),
)
# fmt: on
"""Default asset parameters (ten assets, majors first)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoSeries:
    """One synthetic OHLCV series.

    Attributes
    ----------
    symbol : str
        Demo symbol, e.g. ``"BTC-SYN"``; every demo symbol ends in ``-SYN``.
    kind : str
        Instrument kind, always ``"perp"``.
    freq : str
        Bar length, ``"1d"`` or ``"1h"``.
    frame : pandas.DataFrame
        Columns ``ts`` (bar open time, ``datetime64[us, UTC]``), ``open``, ``high``, ``low``, ``close``
        (USD per unit, float64) and ``volume`` (base-asset units per bar, float64); sorted by ``ts``,
        unique ``ts``, default RangeIndex.
    """

    symbol: str
    kind: str
    freq: str
    frame: pd.DataFrame


def _parse_start(start: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"start must be an ISO date such as '2021-01-01', got {start!r}") from exc
    if ts is pd.NaT:
        raise ValueError(f"start must be an ISO date such as '2021-01-01', got {start!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts != ts.normalize():
        raise ValueError(f"start must be midnight UTC, got {start!r}")
    return ts.as_unit("us")


def _crash_day_index(start: pd.Timestamp, days: int) -> int:
    fixed = (pd.Timestamp(CRASH_DATE, tz="UTC").as_unit("us") - start) // pd.Timedelta(days=1)
    if 0 <= fixed <= days - 2:
        return int(fixed)
    return int(CRASH_FALLBACK_FRACTION * days)


def demo_crash_date(start: str = "2021-01-01", days: int = 4 * 365 + 31) -> pd.Timestamp:
    """Return the UTC day on which the demo crash starts.

    Parameters
    ----------
    start : str
        First UTC day of the span (ISO date), as passed to :func:`generate_demo_universe`.
    days : int
        Length of the span (days).

    Returns
    -------
    pandas.Timestamp
        Midnight UTC of the crash day: :data:`CRASH_DATE` if it lies in the span (leaving a day after it),
        otherwise the day at :data:`CRASH_FALLBACK_FRACTION` of the span.
    """
    ts = _parse_start(start)
    return ts + pd.Timedelta(days=_crash_day_index(ts, days))


def _standard_t(rng: np.random.Generator, nu: FloatArray | float, size: tuple[int, ...]) -> FloatArray:
    """Student-t draws scaled to unit variance (``nu > 2``)."""
    nu_arr = np.asarray(nu, dtype=np.float64)
    draws: FloatArray = rng.standard_t(nu_arr, size=size) * np.sqrt((nu_arr - 2.0) / nu_arr)
    return draws


def _compound_poisson(
    rng: np.random.Generator, rate_per_hour: FloatArray, scale: FloatArray, n_hours: int
) -> FloatArray:
    """Hourly sums of compound Poisson jumps, shape ``(n_hours, len(rate_per_hour))`` (log-return units)."""
    n = rate_per_hour.shape[0]
    counts = np.minimum(rng.poisson(rate_per_hour, size=(n_hours, n)), MAX_JUMPS_PER_HOUR)
    sizes = np.clip(
        rng.standard_t(JUMP_TAIL_NU, size=(n_hours, n, MAX_JUMPS_PER_HOUR)), -JUMP_CLIP, JUMP_CLIP
    )
    active = np.arange(MAX_JUMPS_PER_HOUR)[None, None, :] < counts[:, :, None]
    jumps: FloatArray = (sizes * active).sum(axis=2) * scale[None, :]
    return jumps


def _garch_paths(z: FloatArray, alpha: FloatArray, beta: FloatArray, long_run_var: FloatArray) -> FloatArray:
    """Conditional variances of GARCH(1,1) processes driven by unit-variance shocks ``z`` (hours x series).

    ``h[0]`` is the long-run variance; ``h[t+1] = omega + alpha * h[t] * z[t]**2 + beta * h[t]``, capped at
    :data:`VARIANCE_CAP` times the long-run variance.
    """
    n_hours = z.shape[0]
    omega = (1.0 - alpha - beta) * long_run_var
    cap = VARIANCE_CAP * long_run_var
    h = np.empty_like(z)
    cur = long_run_var.copy()
    z2 = z * z
    for t in range(n_hours):
        h[t] = cur
        cur = np.minimum(omega + (alpha * z2[t] + beta) * cur, cap)
    return h


def _ar1(shocks: FloatArray, phi: float) -> FloatArray:
    """AR(1) ``x[t] = phi * x[t-1] + shocks[t]`` along axis 0, started at ``x[-1] = 0``."""
    out = np.empty_like(shocks)
    cur = np.zeros(shocks.shape[1:], dtype=np.float64)
    for t in range(shocks.shape[0]):
        cur = phi * cur + shocks[t]
        out[t] = cur
    return out


def _ar1_stationary(
    rng: np.random.Generator, n_hours: int, n: int, half_life_hours: float, sd: float
) -> FloatArray:
    """Stationary Gaussian AR(1) paths, shape ``(n_hours, n)``, with the given half-life and sd."""
    phi = math.exp(-math.log(2.0) / half_life_hours)
    innov_sd = sd * math.sqrt(1.0 - phi * phi)
    shocks = rng.standard_normal((n_hours, n)) * innov_sd
    shocks[0] = rng.standard_normal(n) * sd
    return _ar1(shocks, phi)


def _frame(
    ts: pd.DatetimeIndex, o: FloatArray, h: FloatArray, lo: FloatArray, c: FloatArray, v: FloatArray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": ts,
            "open": np.ascontiguousarray(o, dtype=np.float64),
            "high": np.ascontiguousarray(h, dtype=np.float64),
            "low": np.ascontiguousarray(lo, dtype=np.float64),
            "close": np.ascontiguousarray(c, dtype=np.float64),
            "volume": np.ascontiguousarray(v, dtype=np.float64),
        }
    )


def generate_demo_universe(
    seed: int = 20240101,
    *,
    start: str = "2021-01-01",
    days: int = 4 * 365 + 31,
    hourly_symbols: tuple[str, ...] = ("BTC-SYN", "ETH-SYN"),
) -> list[DemoSeries]:
    """Generate the synthetic demo universe (see the module docstring for the model).

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives byte-identical frames.
    start : str
        First UTC day (ISO date, midnight UTC). The span is fixed by ``start`` and ``days`` and never
        depends on today's date.
    days : int
        Number of UTC days (at least :data:`MIN_DAYS`); the default is four years and a month
        (2021-01-01 to 2025-01-30 inclusive).
    hourly_symbols : tuple of str
        Symbols that also get their hourly bars; each must be one of :data:`ASSETS`.

    Returns
    -------
    list of DemoSeries
        For each asset of :data:`ASSETS` in order, its daily series (``freq="1d"``, ``days`` bars), followed
        by its hourly series (``freq="1h"``, ``24 * days`` bars) when it is in ``hourly_symbols``. Daily bars
        are exact aggregates of the hourly path: open = first hourly open, close = last hourly close,
        high = max, low = min, volume = sum.

    Raises
    ------
    ValueError
        If ``days`` is too short, ``start`` is not a midnight-UTC date or ``hourly_symbols`` names an unknown
        symbol.
    FloatingPointError
        Guard only: if a price came out non-finite or non-positive (not expected with the shipped parameters).
    """
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < MIN_DAYS:
        raise ValueError(f"days must be an integer >= {MIN_DAYS}, got {days!r}")
    days = int(days)
    known = [a.symbol for a in ASSETS]
    unknown = [s for s in hourly_symbols if s not in known]
    if unknown:
        raise ValueError(f"hourly_symbols must be demo symbols ({', '.join(known)}), got unknown {unknown}")
    t0 = _parse_start(start)
    crash_day = _crash_day_index(t0, days)

    rng = np.random.default_rng(seed)
    n_hours = days * HOURS_PER_DAY
    n = len(ASSETS)
    mk = MARKET

    def col(name: str) -> FloatArray:
        return np.array([float(getattr(a, name)) for a in ASSETS], dtype=np.float64)

    betas = col("beta")
    p0 = col("p0")
    adv = col("adv_usd")

    # --- random draws, in a fixed order -----------------------------------------------------------------
    z_m = _standard_t(rng, mk.nu, (n_hours, 1))
    z_i = _standard_t(rng, col("nu"), (n_hours, n))
    regime_x = _ar1_stationary(rng, n_hours, 1, mk.regime_half_life_days * HOURS_PER_DAY, mk.regime_sd)[:, 0]
    jumps_m = _compound_poisson(
        rng, np.array([mk.jumps_per_year / HOURS_PER_YEAR]), np.array([mk.jump_scale]), n_hours
    )[:, 0]
    jumps_i = _compound_poisson(rng, col("jumps_per_year") / HOURS_PER_YEAR, col("jump_scale"), n_hours)
    u_high = rng.random((n_hours, n))
    u_low = rng.random((n_hours, n))
    vol_ar = _ar1_stationary(rng, n_hours, n, VOLUME_AR_HALF_LIFE_HOURS, VOLUME_AR_SD)
    vol_iid = rng.standard_normal((n_hours, n)) * VOLUME_NOISE_SD

    # --- variances: GARCH(1,1) per series x slow regime + post-crash boost ------------------------------
    lr_var = np.concatenate([[mk.sigma_ann**2], col("idio_sigma_ann") ** 2]) / HOURS_PER_YEAR
    h = _garch_paths(
        np.concatenate([z_m, z_i], axis=1),
        np.concatenate([[mk.alpha], col("alpha")]),
        np.concatenate([[mk.beta], col("beta_g")]),
        lr_var,
    )
    hours = np.arange(n_hours, dtype=np.float64)
    crash_start = crash_day * HOURS_PER_DAY
    crash_end = crash_start + CRASH_HOURS
    since_end = np.maximum(hours - crash_end, 0.0)
    # extra variance after the crash, in units of each component's long-run variance
    boost = np.where(
        hours >= crash_end,
        CRASH_VOL_BOOST**2 * np.exp(-since_end / (CRASH_VOL_DECAY_DAYS * HOURS_PER_DAY)),
        0.0,
    )
    g2 = np.exp(2.0 * (regime_x - mk.regime_sd**2))  # g[t]**2, E[g**2] = 1
    var = np.minimum(g2[:, None] * h, VARIANCE_CAP * lr_var[None, :]) + boost[:, None] * lr_var[None, :]

    # --- crash drift on the market factor ---------------------------------------------------------------
    crash = np.zeros(n_hours)
    k = np.arange(CRASH_HOURS, dtype=np.float64)
    profile = np.exp(-0.5 * ((k - CRASH_PEAK_HOUR) / CRASH_WIDTH_HOURS) ** 2)
    crash[crash_start:crash_end] = math.log1p(CRASH_DROP) * profile / profile.sum()

    # --- returns ---------------------------------------------------------------------------------------
    sd_m = np.sqrt(var[:, 0])
    sd_i = np.sqrt(var[:, 1:])
    market = sd_m * z_m[:, 0] + jumps_m + crash
    r = betas[None, :] * market[:, None] + sd_i * z_i + jumps_i
    diff_var = (betas[None, :] * sd_m[:, None]) ** 2 + sd_i**2  # diffusive variance of the hour

    # --- prices and intraday extremes (Brownian bridge max / min) --------------------------------------
    close = p0[None, :] * np.exp(np.cumsum(r, axis=0))
    open_ = np.empty_like(close)
    open_[0] = p0
    open_[1:] = close[:-1]
    up = 0.5 * (r + np.sqrt(r * r - 2.0 * diff_var * np.log(u_high)))
    down = 0.5 * (r - np.sqrt(r * r - 2.0 * diff_var * np.log(u_low)))
    high = np.maximum(np.maximum(open_, close), open_ * np.exp(up))
    low = np.minimum(np.minimum(open_, close), open_ * np.exp(down))
    if not (np.isfinite(close).all() and (low > 0).all() and np.isfinite(high).all()):
        raise FloatingPointError("demo generator produced non-finite or non-positive prices")

    # --- volume ----------------------------------------------------------------------------------------
    hour_of_day = hours % HOURS_PER_DAY
    season = 1.0 + VOLUME_SEASON_AMPLITUDE * np.cos(
        2.0 * np.pi * (hour_of_day - VOLUME_SEASON_PEAK_HOUR) / 24.0
    )
    mean_var = diff_var.mean(axis=0)
    abs_std = np.minimum(np.abs(r) / np.sqrt(diff_var), 8.0)
    log_notional = (
        VOLUME_VOL_ELASTICITY * np.log(diff_var / mean_var[None, :])
        + VOLUME_ABS_RETURN_LOADING * abs_std
        + vol_ar
        + vol_iid
        + np.log(season)[:, None]
    )
    notional = np.exp(log_notional - log_notional.max(axis=0, keepdims=True))
    daily_notional = notional.reshape(days, HOURS_PER_DAY, n).sum(axis=1)
    notional *= (adv / np.median(daily_notional, axis=0))[None, :]
    volume = notional / ((high + low + close) / 3.0)
    day_max = volume.reshape(days, HOURS_PER_DAY, n).sum(axis=1).max(axis=0)
    grid = np.exp2(np.ceil(np.log2(day_max)) - VOLUME_GRID_BITS)
    volume = np.maximum(np.round(volume / grid[None, :]), 1.0) * grid[None, :]

    # --- daily aggregation and frames ------------------------------------------------------------------
    def by_day(a: FloatArray) -> FloatArray:
        return a.reshape(days, HOURS_PER_DAY, n)

    d_open = by_day(open_)[:, 0, :]
    d_close = by_day(close)[:, -1, :]
    d_high = by_day(high).max(axis=1)
    d_low = by_day(low).min(axis=1)
    d_volume = by_day(volume).sum(axis=1)

    ts_h = pd.date_range(t0, periods=n_hours, freq="h", unit="us")
    ts_d = pd.date_range(t0, periods=days, freq="D", unit="us")
    wanted = set(hourly_symbols)
    out: list[DemoSeries] = []
    for j, a in enumerate(ASSETS):
        out.append(
            DemoSeries(
                symbol=a.symbol,
                kind="perp",
                freq="1d",
                frame=_frame(ts_d, d_open[:, j], d_high[:, j], d_low[:, j], d_close[:, j], d_volume[:, j]),
            )
        )
        if a.symbol in wanted:
            out.append(
                DemoSeries(
                    symbol=a.symbol,
                    kind="perp",
                    freq="1h",
                    frame=_frame(ts_h, open_[:, j], high[:, j], low[:, j], close[:, j], volume[:, j]),
                )
            )
    return out


def random_walk_ohlc(n: int, seed: int, vol: float = 0.04, start: str = "2019-01-01") -> pd.DataFrame:
    """Daily OHLC bars of a fat-tailed random walk, for examples, tests and benchmarks.

    Log returns are ``vol`` times unit-variance Student-t(3) draws; the close starts from 100, each
    open is the previous close, and highs and lows lie beyond the open and close by half-normal
    excursions of scale ``vol / 2``.

    Parameters
    ----------
    n : int
        Number of bars.
    seed : int
        Seed of ``numpy.random.default_rng``.
    vol : float
        Daily volatility of log returns, a fraction (0.04 = 4 %).
    start : str
        First bar's date (UTC).

    Returns
    -------
    pandas.DataFrame
        Columns ``open, high, low, close``; daily UTC ``DatetimeIndex``; shape ``(n, 4)``.
    """
    rng = np.random.default_rng(seed)
    r = vol * rng.standard_t(3, n) / math.sqrt(3)
    c = 100 * np.exp(np.cumsum(r))
    o = np.r_[100.0, c[:-1]]
    hi = np.maximum(o, c) * np.exp(np.abs(rng.normal(0, vol / 2, n)))
    lo = np.minimum(o, c) * np.exp(-np.abs(rng.normal(0, vol / 2, n)))
    idx = pd.date_range(start, periods=n, freq="D", tz="UTC")
    return pd.DataFrame({"open": o, "high": hi, "low": lo, "close": c}, index=idx)


def example_store(symbol: str = "ABC", n: int = 800, *, path: str = ":memory:") -> Store:
    """A store holding one synthetic daily series, for the docstring examples and a first notebook cell.

    ``n`` bars of :func:`random_walk_ohlc` (seed 1, 2 % daily volatility, from 2019-01-01) with a volume
    of 1e6 per bar, ingested as ``symbol`` from source ``example``. Not demo data: the series is not
    flagged synthetic and takes part in proposals like any other.

    Parameters
    ----------
    symbol : str, default 'ABC'
    n : int, default 800
        Number of daily bars (800 is enough for a GARCH fit and a short backtest).
    path : str, default ':memory:'
        Where the store lives (a DuckDB file path, or in memory).

    Returns
    -------
    riskparams.store.Store

    Examples
    --------
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()
    >>> [s.label for s in store.list_series()]
    ['ABC 1d spot (example)']
    """
    from riskparams.ingest import ingest_frame
    from riskparams.service import open_store

    store = open_store(path)
    bars = random_walk_ohlc(n, seed=1, vol=0.02).reset_index(names="timestamp").assign(volume=1e6)
    ingest_frame(store, bars, symbol=symbol, source="example", origin="example")
    return store
