"""Values passed between the stages of riskparams: read-only records with no behaviour beyond
conversion to plain dictionaries (for JSON output).

Units: timestamps are UTC; prices in quote currency; volumes in base-asset units; risk parameters
(margin fractions, penalties, LTV, thresholds, bonuses, costs, coverages) are fractions (0.03 = 3 %);
notionals in quote currency.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from riskparams.content import freeze as _frozen
from riskparams.content import short
from riskparams.content import thaw as _thawed
from riskparams.exceptions import SpecError
from riskparams.jsonio import canonical_json, clean_float, content_id, iso_z
from riskparams.tiers import TierTable

if TYPE_CHECKING:  # config imports this module: the policy type loads on first use
    from riskparams.config import RiskPolicy

_REEXPORTED = (canonical_json,)  # riskparams.domain.canonical_json: the one encoder, riskparams.jsonio


E = TypeVar("E", bound=StrEnum)


class Freq(StrEnum):
    """Bar frequency of a price series."""

    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        """Length of one bar in seconds."""
        return {"1h": 3_600, "4h": 14_400, "1d": 86_400}[self.value]

    @classmethod
    def parse(cls, value: str) -> Freq:
        """Parse ``'1h' | '4h' | '1d'`` (case-insensitive); SpecError (a ValueError) names the allowed values."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise SpecError(f"frequency must be one of 1h, 4h, 1d, got {value!r}") from None


class ModelName(StrEnum):
    """Volatility models. ``auto`` picks the lowest BIC among ``FitSpec.candidates``
    (:mod:`riskparams.volatility`); the compiled engine (:mod:`riskparams.fastgarch`) runs
    ``garch``, ``gjr`` and ``egarch``."""

    AUTO = "auto"
    GARCH = "garch"
    GJR = "gjr"
    EGARCH = "egarch"
    EWMA = "ewma"


class DistName(StrEnum):
    """Innovation distributions: standard normal, standardized Student-t, Hansen's skewed t (the
    compiled engine runs ``normal`` and ``t``)."""

    NORMAL = "normal"
    T = "t"
    SKEWT = "skewt"


class MeanName(StrEnum):
    """Mean models: a constant ``mu`` (estimated) or zero."""

    CONSTANT = "constant"
    ZERO = "zero"


class Kind(StrEnum):
    """Market kind of a price series."""

    SPOT = "spot"
    PERP = "perp"

    @classmethod
    def parse(cls, value: str) -> Kind:
        """Parse ``'spot' | 'perp'``; SpecError (a ValueError) names the allowed values."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise SpecError(f"kind must be spot or perp, got {value!r}") from None


def parse_choice(enum: type[E], name: str, value: object, *, error: type[SpecError] = SpecError) -> E:
    """The member of ``enum`` named by ``value`` (a member or its string value), else ``error``.

    The one parser of choices for every validated specification: the message names the field, the
    allowed values and the value given, in one sentence.

    Examples
    --------
    >>> parse_choice(Profile, "profile", "lending")
    <Profile.LENDING: 'lending'>
    >>> parse_choice(Profile, "profile", "options")
    Traceback (most recent call last):
    ...
    riskparams.exceptions.SpecError: profile must be one of 'perp', 'lending', got 'options'
    """
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    allowed = ", ".join(repr(m.value) for m in enum)
    raise error(f"{name} must be one of {allowed}, got {value!r}", field=name, value=value)


class Profile(StrEnum):
    """What a proposal, backtest or parameter file is for: perpetual margin tiers or lending parameters.

    A ``StrEnum``: ``Profile.PERP == "perp"`` and it prints, hashes and serialises as ``"perp"``, so a plain
    string is accepted wherever a profile is taken and stored content does not change.
    """

    PERP = "perp"
    LENDING = "lending"

    @classmethod
    def parse(cls, value: object, *, error: type[SpecError] = SpecError) -> Profile:
        """``value`` (``'perp'``, ``'lending'`` or a member) as a :class:`Profile`, else ``error`` naming it."""
        return parse_choice(cls, "profile", value, error=error)


SYMBOL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,39}$")
"""Symbols: a letter or digit first, then letters, digits and ``. _ / : -``; at most 40 characters.

No symbol can therefore carry SQL, quotes, spaces or a spreadsheet formula prefix (``= + - @``)."""

SOURCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$")
"""Source labels follow the same rule as symbols, without ``/``."""


def validate_symbol(symbol: str) -> str:
    """Return ``symbol`` upper-cased if it is a valid symbol, else raise SpecError (a ValueError) naming it.

    Parameters
    ----------
    symbol : str
        For example ``"BTC"``, ``"BTC/USDT"``, ``"ETH-PERP"``.
    """
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.match(symbol):
        raise SpecError(
            f"symbol {symbol!r} is not valid: use 1-40 letters, digits and . _ / : - "
            "starting with a letter or digit"
        )
    return symbol.upper()


def validate_source(source: str) -> str:
    """Return ``source`` lower-cased if it is a valid source label, else raise SpecError (a ValueError) naming it."""
    if not isinstance(source, str) or not SOURCE_PATTERN.match(source):
        raise SpecError(
            f"source label {source!r} is not valid: use 1-40 letters, digits and . _ : - "
            "starting with a letter or digit"
        )
    return source.lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesInfo:
    """One stored price series and its extent.

    ``first`` and ``last`` are bar open times (UTC, naive ``datetime``), ``None`` for an empty series.
    """

    series_id: int
    symbol: str
    source: str
    kind: str
    freq: str
    synthetic: bool
    rows: int = 0
    first: datetime | None = None
    last: datetime | None = None

    @property
    def label(self) -> str:
        """Human label, e.g. ``'BTC 1d spot (binance)'``; synthetic series say so."""
        tag = " [synthetic]" if self.synthetic and self.source != "synthetic" else ""
        return f"{self.symbol} {self.freq} {self.kind} ({self.source}){tag}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary; timestamps as ISO-8601 strings with ``Z``."""
        d = asdict(self)
        for k in ("first", "last"):
            v = d[k]
            d[k] = None if v is None else iso_z(v)
        return d


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """A run of missing bars: ``after`` is the last bar before it, ``before`` the first bar after it."""

    after: datetime
    before: datetime
    missing_bars: int


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestReport:
    """What one ingest did.

    Attributes
    ----------
    series : SeriesInfo
        The series written to, with its extent after the ingest.
    origin : str
        File path, ``exchange:NAME`` or ``demo``.
    file_hash : str or None
        SHA-256 of the file's bytes (files only).
    rows_read : int
        Data rows in the input.
    duplicates_dropped : int
        Input rows that repeated another row exactly and were dropped.
    rows_added, rows_replaced, rows_unchanged : int
        New bars stored; stored bars overwritten (``replace=True`` only); bars already stored as they were.
    gaps : tuple of Gap
        Gaps inside the input (reported, not fatal).
    """

    series: SeriesInfo
    origin: str
    file_hash: str | None
    rows_read: int
    duplicates_dropped: int
    rows_added: int
    rows_replaced: int
    rows_unchanged: int
    gaps: tuple[Gap, ...] = field(default_factory=tuple)

    @property
    def missing_bars(self) -> int:
        """Total bars missing inside the input's span."""
        return sum(g.missing_bars for g in self.gaps)

    @property
    def changed(self) -> bool:
        """True when the store changed."""
        return bool(self.rows_added or self.rows_replaced)

    def summary(self) -> str:
        """One line for the command line and the dashboard."""
        s = self.series
        parts = [
            f"{s.symbol} {s.freq} {s.kind} ({s.source}): {self.rows_added} bars added",
        ]
        if self.rows_replaced:
            parts.append(f"{self.rows_replaced} replaced")
        if self.rows_unchanged:
            parts.append(f"{self.rows_unchanged} already stored")
        if self.duplicates_dropped:
            parts.append(f"{self.duplicates_dropped} duplicate rows dropped")
        if self.gaps:
            parts.append(f"{len(self.gaps)} gaps ({self.missing_bars} missing bars)")
        return ", ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "series": self.series.to_dict(),
            "origin": self.origin,
            "file_hash": self.file_hash,
            "rows_read": self.rows_read,
            "duplicates_dropped": self.duplicates_dropped,
            "rows_added": self.rows_added,
            "rows_replaced": self.rows_replaced,
            "rows_unchanged": self.rows_unchanged,
            "gaps": [
                {
                    "after": iso_z(g.after),
                    "before": iso_z(g.before),
                    "missing_bars": g.missing_bars,
                }
                for g in self.gaps
            ],
        }


# -------------------------------------------------------------------------------------------------
# risk parameters: current (imported) and proposed
# -------------------------------------------------------------------------------------------------
# Units: every rate, fraction, cost and coverage is a plain fraction (0.03 = 3 %); notionals are in
# quote currency (e.g. USD); a liquidation bonus of 0.05 is Aave's 10500.


_f = clean_float
"""JSON-safe float (NaN and infinities become None): :func:`riskparams.jsonio.clean_float`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentPerpTier:
    """One bracket of a venue's current tier table.

    Attributes
    ----------
    notional_floor, notional_cap : float
        Bracket bounds in quote currency; ``notional_cap`` None for an open-ended last bracket.
    max_leverage : float
        Max leverage of the bracket (IMF = 1 / max_leverage).
    maintenance_rate : float
        Maintenance margin fraction (MMF).
    liquidation_penalty : float or None
        Liquidation penalty / fee, if the venue file gave one.
    """

    notional_floor: float
    notional_cap: float | None
    max_leverage: float
    maintenance_rate: float
    liquidation_penalty: float | None = None

    @property
    def imf(self) -> float:
        """Initial margin fraction, ``1 / max_leverage``."""
        return 1.0 / self.max_leverage

    @property
    def mmf(self) -> float:
        """Maintenance margin fraction (``maintenance_rate``), named as in a proposed :class:`PerpTier`."""
        return self.maintenance_rate


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentPerp:
    """A perpetual market's current tier table.

    ``tiers`` is held as a validated :class:`~riskparams.tiers.TierTable` (a tuple: brackets in ascending
    order, floors from 0, rates not falling with size, ...); a table that breaks an invariant raises
    :class:`~riskparams.exceptions.TierError` naming the tier and the field.
    """

    symbol: str
    tiers: tuple[CurrentPerpTier, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", TierTable(self.tiers, symbol=self.symbol))

    def at(self, notional: float) -> CurrentPerpTier:
        """The bracket that holds a position of ``notional`` (the last bracket beyond its cap)."""
        return TierTable.at(self.tiers, notional)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentLending:
    """A lending market's current parameters for one collateral asset (fractions)."""

    symbol: str
    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentParams:
    """Current parameters imported from a file (see :mod:`riskparams.params_io`).

    ``assets`` maps the upper-cased symbol to its :class:`CurrentPerp` or :class:`CurrentLending`.
    """

    profile: str
    source: str
    assets: Mapping[str, CurrentPerp | CurrentLending]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamLine:
    """One row of a proposal's specification table: Asset | Parameter | Current | Proposed | Change.

    Attributes
    ----------
    parameter : str
        ``mmf``, ``imf``, ``max_leverage``, ``liquidation_penalty`` (perp) or ``ltv``,
        ``liquidation_threshold``, ``liquidation_bonus`` (lending).
    tier : int or None
        0-based tier index (perp), None for lending.
    current : float or None
        Current value, None when no current parameters were given.
    proposed : float
        Proposed value.
    model : float
        What the model alone proposes (no guardrails anywhere; rounding, grid and invariants applied).
    uncapped : float or None
        The value a guardrail (dead-band or max change) received for this parameter when it bit,
        else None.
    bound : str
        What set the value: ``model`` (the model, rounded in the safe direction), ``grid`` (the
        leverage grid), ``fallback_1x`` (no grid leverage qualifies), ``monotonic`` (raised to the
        previous tier's value), ``dead_band`` / ``max_change`` (a guardrail), ``invariant`` (a hard
        constraint overrode a guardrail), ``maintenance_cap`` (penalty capped at MMF - covered move),
        ``follows`` (lending: moved because a parameter it depends on was capped).
    """

    parameter: str
    tier: int | None
    current: float | None
    proposed: float
    model: float
    uncapped: float | None
    bound: str

    @property
    def change(self) -> float | None:
        """``proposed - current`` (None without a current value)."""
        return None if self.current is None else self.proposed - self.current

    @property
    def relative_change(self) -> float | None:
        """``(proposed - current) / current`` (None without a current value or when it is 0)."""
        if self.current is None or self.current == 0:
            return None
        return (self.proposed - self.current) / self.current

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (with ``change`` and ``relative_change``)."""
        return {
            "parameter": self.parameter, "tier": self.tier, "current": _f(self.current),
            "proposed": _f(self.proposed), "change": _f(self.change), "relative_change": _f(self.relative_change),
            "model": _f(self.model), "uncapped": _f(self.uncapped), "bound": self.bound,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ParamLine:
        """Inverse of :meth:`to_dict` (``change`` and ``relative_change`` are derived)."""
        return cls(parameter=d["parameter"], tier=d["tier"], current=d["current"], proposed=d["proposed"],
                   model=d["model"], uncapped=d["uncapped"], bound=d["bound"])


@dataclass(frozen=True, slots=True, kw_only=True)
class CoveredMove:
    """The adverse price move the margin covers, and how anti-procyclicality shaped it.

    Attributes
    ----------
    tail : str
        ``lower``, ``upper`` (the worse of the two for perps) or ``lower`` for lending.
    measure : str
        ``var`` or ``es``.
    model : float
        The model's move at the policy's confidence over the horizon (fraction of price).
    after_stressed_weight, after_floor, final : float
        After tool (b), after tool (c), and after the buffer (a): the covered move ``m``.
    binding : tuple of str
        Tools that changed the move, in order: ``stressed_weight``, ``long_run_floor``, ``buffer``.
    in_stress : bool
        Forecast volatility >= ``buffer_release_ratio`` x stressed volatility (buffer released).
    vol_forecast, vol_long_run, vol_stressed : float
        Per-bar volatilities used: the average forecast over the horizon
        (``horizon_vol / sqrt(horizon_bars)``), the long-run and the stressed volatility.
    long_run_basis : str
        ``sample`` (standard deviation of the fitted returns), ``conditional`` (root mean conditional
        variance) or ``model`` (the model's unconditional volatility).
    vol_forecast_annualised, vol_long_run_annualised, vol_stressed_annualised : float
        The same, annualised.
    """

    tail: str
    measure: str
    model: float
    after_stressed_weight: float
    after_floor: float
    final: float
    binding: tuple[str, ...]
    in_stress: bool
    vol_forecast: float
    vol_long_run: float
    vol_stressed: float
    long_run_basis: str
    vol_forecast_annualised: float
    vol_long_run_annualised: float
    vol_stressed_annualised: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        out: dict[str, Any] = {}
        for k in self.__slots__:  # type: ignore[attr-defined]
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else (_f(v) if isinstance(v, float) else v)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CoveredMove:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**d, "binding": tuple(d["binding"])})


@dataclass(frozen=True, slots=True, kw_only=True)
class PerpTier:
    """One proposed tier of a perpetual market.

    Attributes
    ----------
    notional_floor, notional_cap : float
        Bracket in quote currency (``notional_cap`` None: open-ended).
    imf, mmf : float
        Initial and maintenance margin fractions; ``0 <= liquidation_penalty < mmf < imf <= 1``.
    max_leverage : float
        ``1 / imf``, from the policy's grid (1x is the fallback).
    maintenance_deduction : float
        Quote currency: maintenance margin of a position of notional ``N`` in this tier is
        ``N * mmf - maintenance_deduction`` (continuous at the tier edges).
    liquidation_penalty : float
        Fraction of notional paid on liquidation.
    coverage : float
        Probability, under today's model, that a liquidation triggered at maintenance completes
        without bad debt over the horizon: ``P(adverse move <= mmf - close_out_cost)``, worse side.
    close_out_cost : float
        Square-root-law cost of closing ``cost_notional`` (fraction of notional).
    cost_notional : float
        Notional at which the cost was computed (the cap, or the policy's cap for an open tier).
    mmf_model : float
        The MMF the model alone gives (covered move + cost + incentive, rounded up, monotone).
    horizon_hours : float
        The tier's margin period of risk (oracle latency + liquidation delay + close-out time), hours.
    covered_move : float
        The adverse price move the tier's margin covers over its horizon (after anti-procyclicality).
    under_covered : bool
        A guardrail holds the MMF below the model's: the tier covers less than the policy asks
        (``coverage`` says how much).
    """

    notional_floor: float
    notional_cap: float | None
    imf: float
    mmf: float
    max_leverage: float
    maintenance_deduction: float
    liquidation_penalty: float
    coverage: float
    close_out_cost: float
    cost_notional: float
    mmf_model: float
    horizon_hours: float = float("nan")
    covered_move: float = float("nan")
    under_covered: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {k: (getattr(self, k) if k == "under_covered" else _f(getattr(self, k)))
                for k in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentTierAssessment:
    """A current bracket seen through today's model (``below_confidence``: coverage < policy confidence)."""

    notional_floor: float
    notional_cap: float | None
    imf: float
    mmf: float
    max_leverage: float
    maintenance_deduction: float
    liquidation_penalty: float | None
    close_out_cost: float
    coverage: float
    below_confidence: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            k: (getattr(self, k) if k == "below_confidence" else _f(getattr(self, k)))
            for k in self.__slots__  # type: ignore[attr-defined]
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingCurrentAssessment:
    """Current lending parameters seen through today's model."""

    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float
    coverage: float
    below_confidence: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (fractions, plus Aave-style bps)."""
        return {
            "ltv": _f(self.ltv), "liquidation_threshold": _f(self.liquidation_threshold),
            "liquidation_bonus": _f(self.liquidation_bonus), **lending_bps(
                self.ltv, self.liquidation_threshold, self.liquidation_bonus),
            "coverage": _f(self.coverage), "below_confidence": self.below_confidence,
        }


def lending_bps(ltv: float, liquidation_threshold: float, liquidation_bonus: float) -> dict[str, int]:
    """Aave-style basis points: ``ltv_bps``, ``liquidation_threshold_bps`` and ``liquidation_bonus_bps``
    (10000 + bonus: 0.05 -> 10500)."""
    return {
        "ltv_bps": int(round(ltv * 10_000)),
        "liquidation_threshold_bps": int(round(liquidation_threshold * 10_000)),
        "liquidation_bonus_bps": 10_000 + int(round(liquidation_bonus * 10_000)),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetContext:
    """What a proposal for one asset was computed from (provenance and market inputs).

    Portable: no store-specific ids, so the same data give the same proposal id in any store.

    Attributes
    ----------
    symbol, freq, source, kind : str
        The stored series used.
    synthetic : bool
        The series is synthetic (demo) data.
    fingerprint : str
        SHA-256 of the exact price rows used (:func:`riskparams.returns.data_fingerprint`).
    first_bar, last_bar : str
        ISO-8601 UTC open times of the first and last bar used.
    spec_key : str
        ``FitSpec.key()`` of the model specification.
    model : str
        The model actually fitted, e.g. ``'garch-t'`` (``'ewma-normal'`` after a fallback).
    fallback : str or None
        Why the requested model fell back to EWMA.
    adv : float
        Average daily traded value (quote currency) used by the cost model.
    adv_source : str
        ``'stored volume x close over N days'`` or ``'policy override'``.
    sigma_daily : float
        Daily forecast volatility used by the cost model (fraction).
    selection : str
        Why this series was chosen (the ``--freq``/``--kind`` asked for, or the profile's preference).
    debt_asset : str or None
        Lending: the debt asset the collateral is priced against (a stablecoin: the series as stored;
        otherwise the collateral/debt price ratio).
    """

    symbol: str
    freq: str
    source: str
    kind: str
    synthetic: bool
    fingerprint: str
    first_bar: str | None
    last_bar: str | None
    spec_key: str
    model: str
    fallback: str | None
    adv: float
    adv_source: str
    sigma_daily: float
    selection: str = ""
    debt_asset: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        out = {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]
        out["adv"], out["sigma_daily"] = _f(self.adv), _f(self.sigma_daily)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class TierHorizon:
    """The margin period of risk of one tier (hours): fixed parts plus the close-out of its notional."""

    notional: float
    close_out_hours: float
    horizon_hours: float
    basis: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"notional": _f(self.notional), "close_out_hours": _f(self.close_out_hours),
                "horizon_hours": _f(self.horizon_hours), "basis": self.basis}


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginPeriod:
    """How each tier's margin period of risk (MPOR) was built.

    Attributes
    ----------
    oracle_latency_hours, liquidation_delay_hours : float
        The fixed parts (hours).
    participation_rate : float
        Share of the market's volume a close-out may take.
    adv : float
        Average daily traded value the close-out time is measured against (quote currency).
    bar_hours : float
        Bar length of the series whose distribution is read (a horizon below it is scaled).
    min_hours, max_hours, fixed_hours : float
        Policy floor, ceiling and flat override (0: none).
    tiers : tuple of TierHorizon
        One per proposed tier (and per tier dropped for exceeding ``max_hours``).
    """

    oracle_latency_hours: float
    liquidation_delay_hours: float
    participation_rate: float
    adv: float
    bar_hours: float
    min_hours: float
    max_hours: float
    fixed_hours: float
    tiers: tuple[TierHorizon, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        out: dict[str, Any] = {k: _f(getattr(self, k)) for k in self.__slots__ if k != "tiers"}  # type: ignore
        out["tiers"] = [t.to_dict() for t in self.tiers]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MarginPeriod:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: (float("nan") if v is None else v) for k, v in d.items() if k != "tiers"},
                   tiers=tuple(TierHorizon(**t) for t in d["tiers"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRiskBand:
    """The covered move at one horizon from three estimates of the tail, side by side.

    Each is the worse tail's price move (fraction) at the policy's measure and confidence before
    anti-procyclicality: ``fitted`` (the fitted law), ``fhs`` (filtered historical simulation; None when
    unavailable) and ``empirical`` (plain historical simulation over the whole history; None when too
    short). ``combined`` follows the policy's ``model_risk.combine``; ``bound`` names the estimate it took.
    """

    horizon_hours: float
    measure: str
    confidence: float
    fitted: float
    fhs: float | None
    empirical: float | None
    nu: float | None
    combine: str
    combined: float
    bound: str
    basis: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (keys ``fitted``, ``fhs``, ``empirical``, ``nu`` among others)."""
        return {k: (getattr(self, k) if isinstance(getattr(self, k), str) else _f(getattr(self, k)))
                for k in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerTier:
    """One bracket of another venue's published tier table (notional in quote currency)."""

    notional_floor: float
    notional_cap: float | None
    max_leverage: float
    maintenance_rate: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerTable:
    """A venue's tier table for one symbol, and where it was read."""

    venue: str
    symbol: str
    tiers: tuple[PeerTier, ...]
    source: str = ""

    def at(self, notional: float) -> PeerTier | None:
        """The bracket holding ``notional`` (None beyond the venue's last cap)."""
        for t in self.tiers:
            if t.notional_floor <= notional and (t.notional_cap is None or notional < t.notional_cap):
                return t
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerComparison:
    """The proposed tiers of one market beside other venues' brackets at the same notionals.

    ``rows``: per proposed tier floor, ``(notional, proposed max leverage, proposed MMF, {venue: (max
    leverage, maintenance rate) or None})``; ``sources``: venue -> where its table was read.
    """

    venues: tuple[str, ...]
    sources: Mapping[str, str]
    rows: tuple[tuple[float, float, float, Mapping[str, tuple[float, float] | None]], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: ``venues``, ``sources`` and ``rows`` of ``notional``, ``proposed``
        (``max_leverage``, ``mmf``) and ``peers`` (venue -> ``max_leverage``, ``maintenance_rate`` or None)."""
        return {
            "venues": list(self.venues), "sources": dict(self.sources),
            "rows": [{"notional": _f(n), "proposed": {"max_leverage": _f(lev), "mmf": _f(mmf)},
                      "peers": {v: (None if x is None else {"max_leverage": _f(x[0]), "maintenance_rate": _f(x[1])})
                                for v, x in peers.items()}}
                     for n, lev, mmf, peers in self.rows],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PeerComparison:
        """Inverse of :meth:`to_dict`."""
        rows = tuple(
            (r["notional"], r["proposed"]["max_leverage"], r["proposed"]["mmf"],
             {v: (None if x is None else (x["max_leverage"], x["maintenance_rate"])) for v, x in r["peers"].items()})
            for r in d["rows"])
        return cls(venues=tuple(d["venues"]), sources=dict(d["sources"]), rows=rows)


@dataclass(frozen=True, slots=True, kw_only=True)
class PerpAssetProposal:
    """Proposed tier table of one perpetual market.

    Attributes
    ----------
    symbol : str
    status : str
        ``'ok'`` or ``'unmarginable'`` (even the first tier needs an MMF of 100 % or more).
    tiers : tuple of PerpTier
        Ascending; empty when unmarginable. Tiers whose model MMF reaches 100 % are dropped and
        ``position_limit`` is set to the floor of the first of them.
    position_limit : float or None
        Notional above which no tier can be offered (quote currency), or None.
    covered : CoveredMove
        Tier 1's covered move and how anti-procyclicality shaped it.
    current : tuple of CurrentTierAssessment or None
        The current brackets and their coverage under today's model.
    lines : tuple of ParamLine
        The specification table rows (current, proposed, change, uncapped, bound).
    rationale : str
        A short plain-English reason built from the numbers.
    context : AssetContext or None
        Provenance and market inputs (set by the service).
    notes : tuple of str
    horizon : MarginPeriod or None
        How each tier's margin period of risk was built.
    model_risk : ModelRiskBand or None
        Tier 1's covered move from the fitted law, FHS and historical simulation, and which one bound.
    regime : str
        ``calm``, ``normal``, ``elevated`` or ``stress`` (forecast against long-run and stressed volatility).
    capital_cost : float
        Initial margin as a share of notional of a position of the policy's ``perp.reference_notional``.
    open_interest_cap : float or None
        Open-interest cap, quote currency (USD) (:mod:`riskparams.book.caps`); None when none binds, the
        market is unmarginable, or the proposal was stored before caps existed.
    cap_reason : str or None
        The binding limit: ``'liquidity'`` (the liquidation volume after the policy's extreme move could not be
        absorbed with slippage below the penalty) or ``'loss budget'`` (stressed bad debt would exceed the
        policy's loss budget).
    """

    symbol: str
    status: str
    tiers: tuple[PerpTier, ...]
    position_limit: float | None
    covered: CoveredMove
    current: tuple[CurrentTierAssessment, ...] | None
    lines: tuple[ParamLine, ...]
    rationale: str
    context: AssetContext | None = None
    notes: tuple[str, ...] = ()
    horizon: MarginPeriod | None = None
    model_risk: ModelRiskBand | None = None
    regime: str = ""
    capital_cost: float = float("nan")
    peers: PeerComparison | None = None
    open_interest_cap: float | None = None
    cap_reason: str | None = None

    @classmethod
    def from_dict(cls, a: Mapping[str, Any]) -> PerpAssetProposal:
        """Inverse of :meth:`to_dict`."""
        cur = a["current"]
        return cls(
            symbol=a["symbol"], status=a["status"], tiers=tuple(PerpTier(**t) for t in a["tiers"]),
            position_limit=a["position_limit"], covered=CoveredMove.from_dict(a["covered_move"]),
            current=None if cur is None else tuple(CurrentTierAssessment(**t) for t in cur["tiers"]),
            lines=tuple(ParamLine.from_dict(ln) for ln in a["lines"]), rationale=a["rationale"],
            context=None if a["context"] is None else AssetContext(**a["context"]), notes=tuple(a["notes"]),
            horizon=None if a.get("horizon") is None else MarginPeriod.from_dict(a["horizon"]),
            model_risk=None if a.get("model_risk") is None else ModelRiskBand(**a["model_risk"]),
            regime=a.get("regime", ""), capital_cost=_nan(a.get("capital_cost")),
            peers=None if a.get("peers") is None else PeerComparison.from_dict(a["peers"]),
            open_interest_cap=a.get("open_interest_cap"), cap_reason=a.get("cap_reason"),
        )

    @property
    def under_covered(self) -> tuple[PerpTier, ...]:
        """Tiers whose MMF a guardrail holds below the model's."""
        return tuple(t for t in self.tiers if t.under_covered)

    @property
    def current_below_confidence(self) -> bool | None:
        """True when some current bracket covers less than the policy's confidence (None: no current)."""
        return None if self.current is None else any(t.below_confidence for t in self.current)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: ``symbol, status, tiers, position_limit, current, rationale, covered_move,
        lines, context, notes``."""
        return {
            "symbol": self.symbol,
            "status": self.status,
            "tiers": [t.to_dict() for t in self.tiers],
            "position_limit": _f(self.position_limit),
            "current": None if self.current is None else {
                "tiers": [t.to_dict() for t in self.current],
                "below_confidence": self.current_below_confidence,
            },
            "rationale": self.rationale,
            "covered_move": self.covered.to_dict(),
            "lines": [ln.to_dict() for ln in self.lines],
            "context": None if self.context is None else self.context.to_dict(),
            "notes": list(self.notes),
            "horizon": None if self.horizon is None else self.horizon.to_dict(),
            "model_risk": None if self.model_risk is None else self.model_risk.to_dict(),
            "regime": self.regime,
            "capital_cost": _f(self.capital_cost),
            "peers": None if self.peers is None else self.peers.to_dict(),
            # caps came in later: left out when absent, so content stored before them rebuilds to its own hash
            **({} if self.open_interest_cap is None and self.cap_reason is None else {
                "open_interest_cap": _f(self.open_interest_cap), "cap_reason": self.cap_reason}),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingBonus:
    """What the liquidation bonus pays for (fractions of the liquidated collateral).

    ``incentive`` (the policy's floor) + ``slippage`` (closing ``size`` against ``liquidity_source``) +
    ``inventory_risk`` (the liquidator's price risk while selling over ``hold_hours`` at the stressed
    volatility, VaR at ``confidence``) = ``total`` before rounding.
    """

    size: float
    liquidity_source: str
    slippage: float
    hold_hours: float
    confidence: float
    inventory_risk: float
    incentive: float
    total: float
    debt_asset: str
    debt_stable: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {k: (getattr(self, k) if isinstance(getattr(self, k), str | bool) else _f(getattr(self, k)))
                for k in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingAssetProposal:
    """Proposed lending parameters of one collateral asset (fractions; bps in :meth:`to_dict`).

    Attributes
    ----------
    symbol : str
    status : str
        ``'ok'`` or ``'unmarginable'`` (the model leaves no room for borrowing after the LTV buffer: LTV 0,
        i.e. new borrowing frozen; the threshold and bonus are still proposed, guardrails applying).
    ltv, liquidation_threshold, liquidation_bonus : float
        ``0 <= ltv < liquidation_threshold`` (both 0 only when unmarginable without current parameters and
        the model's threshold is 0), ``liquidation_threshold * (1 + bonus) <= 1``.
    coverage : float
        ``P(drop <= 1 - LT (1 + LB))`` over the horizon under today's model.
    close_out_cost : float
        Cost of liquidating the policy's reference notional (fraction).
    covered : CoveredMove
    current : LendingCurrentAssessment or None
    lines : tuple of ParamLine
    rationale : str
    context : AssetContext or None
    notes : tuple of str
    supply_cap, borrow_cap : float or None
        Supply and borrow caps, quote currency (USD) (:mod:`riskparams.book.caps`); None when none binds or
        the proposal was stored before caps existed.
    debt_ceiling : float or None
        USD; None when the asset is not in isolation mode (``lending.isolated_assets``).
    cap_reason : str or None
        ``'liquidity'`` (the collateral liquidated after the extreme drop could not be sold with slippage below
        the bonus) or ``'loss budget'`` (stressed bad debt would exceed the policy's loss budget).
    cap_price : float or None
        The as-of price used (quote per unit), so venue formats can convert the caps to whole tokens.
    """

    symbol: str
    status: str
    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float
    coverage: float
    close_out_cost: float
    covered: CoveredMove
    current: LendingCurrentAssessment | None
    lines: tuple[ParamLine, ...]
    rationale: str
    context: AssetContext | None = None
    notes: tuple[str, ...] = ()
    model_risk: ModelRiskBand | None = None
    regime: str = ""
    bonus: LendingBonus | None = None
    capital_cost: float = float("nan")
    supply_cap: float | None = None
    borrow_cap: float | None = None
    debt_ceiling: float | None = None
    cap_reason: str | None = None
    cap_price: float | None = None

    @classmethod
    def from_dict(cls, a: Mapping[str, Any]) -> LendingAssetProposal:
        """Inverse of :meth:`to_dict` (the ``*_bps`` are derived)."""
        cur = a["current"]
        return cls(
            symbol=a["symbol"], status=a["status"], ltv=a["ltv"], liquidation_threshold=a["liquidation_threshold"],
            liquidation_bonus=a["liquidation_bonus"], coverage=a["coverage"], close_out_cost=a["close_out_cost"],
            covered=CoveredMove.from_dict(a["covered_move"]),
            current=None if cur is None else LendingCurrentAssessment(
                ltv=cur["ltv"], liquidation_threshold=cur["liquidation_threshold"],
                liquidation_bonus=cur["liquidation_bonus"], coverage=cur["coverage"],
                below_confidence=cur["below_confidence"]),
            lines=tuple(ParamLine.from_dict(ln) for ln in a["lines"]), rationale=a["rationale"],
            context=None if a["context"] is None else AssetContext(**a["context"]), notes=tuple(a["notes"]),
            model_risk=None if a.get("model_risk") is None else ModelRiskBand(**a["model_risk"]),
            regime=a.get("regime", ""), bonus=None if a.get("bonus") is None else LendingBonus(**a["bonus"]),
            capital_cost=_nan(a.get("capital_cost")),
            supply_cap=a.get("supply_cap"), borrow_cap=a.get("borrow_cap"), debt_ceiling=a.get("debt_ceiling"),
            cap_reason=a.get("cap_reason"), cap_price=a.get("cap_price"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: ``symbol, status, ltv, liquidation_threshold, liquidation_bonus`` (fractions),
        their ``*_bps``, ``coverage, close_out_cost, current, rationale, covered_move, lines, context, notes``."""
        return {
            "symbol": self.symbol,
            "status": self.status,
            "ltv": _f(self.ltv),
            "liquidation_threshold": _f(self.liquidation_threshold),
            "liquidation_bonus": _f(self.liquidation_bonus),
            **lending_bps(self.ltv, self.liquidation_threshold, self.liquidation_bonus),
            "coverage": _f(self.coverage),
            "close_out_cost": _f(self.close_out_cost),
            "current": None if self.current is None else self.current.to_dict(),
            "rationale": self.rationale,
            "covered_move": self.covered.to_dict(),
            "lines": [ln.to_dict() for ln in self.lines],
            "context": None if self.context is None else self.context.to_dict(),
            "notes": list(self.notes),
            "model_risk": None if self.model_risk is None else self.model_risk.to_dict(),
            "regime": self.regime,
            "bonus": None if self.bonus is None else self.bonus.to_dict(),
            "capital_cost": _f(self.capital_cost),
            # caps came in later: left out when absent, so content stored before them rebuilds to its own hash
            **({} if all(x is None for x in (self.supply_cap, self.borrow_cap, self.debt_ceiling, self.cap_reason,
                                             self.cap_price)) else {
                "supply_cap": _f(self.supply_cap), "borrow_cap": _f(self.borrow_cap),
                "debt_ceiling": _f(self.debt_ceiling), "cap_reason": self.cap_reason,
                "cap_price": _f(self.cap_price)}),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SkippedAsset:
    """An asset left out of a proposal, with the reason (one sentence)."""

    symbol: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"symbol": self.symbol, "reason": self.reason}


_OPTION_TIER_KEYS = ("notional_floor", "notional_cap", "mmf", "imf", "max_leverage", "maintenance_deduction",
                     "liquidation_penalty", "coverage", "horizon_hours", "under_covered")
_OPTION_TIER_LATER_KEYS = ("horizon_hours", "under_covered")
"""Option-tier keys that content stored before them may lack (it reads back, and re-hashes, without them)."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class OptionTier(Mapping[str, Any]):
    """One tier of a perpetual market under an option (``options[].assets[].tiers[]`` of a proposal).

    A typed, read-only summary of a :class:`PerpTier`: attributes as there; it also reads as the read-only
    mapping :meth:`to_dict` (``tier["mmf"]``, ``dict(tier)``, ``TierTable.from_rows``), as option tiers did before
    they were typed, and compares equal to that mapping.

    Attributes
    ----------
    notional_floor : float
        Bracket floor, quote currency.
    notional_cap : float or None
        Bracket cap, quote currency (None: open-ended).
    mmf, imf : float
        Maintenance and initial margin fractions.
    max_leverage : float
        ``1 / imf``.
    maintenance_deduction : float
        Quote currency (see :class:`PerpTier`).
    liquidation_penalty : float
        Fraction of notional.
    coverage : float or None
        Probability (0-1) that a liquidation at maintenance completes without bad debt; None when not finite.
    horizon_hours : float or None
        Margin period of risk, hours; None when not finite (or absent, see ``absent``).
    under_covered : bool
        A guardrail holds the MMF below the model's.
    absent : frozenset of str
        Keys of :data:`_OPTION_TIER_LATER_KEYS` the stored content did not have (written before they existed):
        left out of :meth:`to_dict`, so such content re-hashes to its id.

    Examples
    --------
    A proposal asked for options (``riskparams.propose(..., options=["conservative", "aggressive"])``) carries
    one per option and tier (``proposal.options[0].assets[0].tiers``); one read back from stored content:

    >>> from riskparams import OptionTier
    >>> tier = OptionTier.from_dict({"notional_floor": 0.0, "notional_cap": 1e6, "mmf": 0.02, "imf": 0.05,
    ...     "max_leverage": 20.0, "maintenance_deduction": 0.0, "liquidation_penalty": 0.01, "coverage": 0.995,
    ...     "horizon_hours": 4.0, "under_covered": False})
    >>> tier.max_leverage, tier["mmf"], tier.imf == 1 / tier.max_leverage, dict(tier) == tier.to_dict()
    (20.0, 0.02, True, True)
    >>> OptionTier.from_dict({"mmf": 0.02})
    Traceback (most recent call last):
    ...
    ValueError: an option tier of the stored proposal is missing 'notional_floor'; it was written by another version of riskparams.
    """

    notional_floor: float
    notional_cap: float | None
    mmf: float
    imf: float
    max_leverage: float
    maintenance_deduction: float
    liquidation_penalty: float
    coverage: float | None
    horizon_hours: float | None = None
    under_covered: bool = False
    absent: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for k in _OPTION_TIER_KEYS:
            v = getattr(self, k)
            if k == "under_covered":
                ok = isinstance(v, bool)
            else:
                ok = (v is None and k in ("notional_cap", "coverage", "horizon_hours")) or (
                    isinstance(v, int | float) and not isinstance(v, bool))
            if not ok:
                raise ValueError(f"option tier field {k!r} must be "
                                 + ("true or false" if k == "under_covered" else "a number")
                                 + f", got {v!r}.")
        extra = set(self.absent) - set(_OPTION_TIER_LATER_KEYS)
        if extra:
            raise ValueError(f"option tier field {sorted(extra)[0]!r} cannot be absent.")
        object.__setattr__(self, "absent", frozenset(self.absent))

    @classmethod
    def of(cls, t: PerpTier) -> OptionTier:
        """The summary of a proposed tier (non-finite numbers read as None, as in :meth:`PerpTier.to_dict`)."""
        return cls.from_dict({k: v for k, v in t.to_dict().items() if k in _OPTION_TIER_KEYS})

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: the keys of :data:`_OPTION_TIER_KEYS` (less ``absent``), values as stored."""
        return {k: (_f(v) if isinstance(v, float) else v) for k in _OPTION_TIER_KEYS if k not in self.absent
                for v in (getattr(self, k),)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "an option tier") -> OptionTier:
        """Inverse of :meth:`to_dict` (values kept as they are: the round trip is exact).

        Raises
        ------
        ValueError
            ``d`` is not a mapping, or a key is missing, unknown or of the wrong type; ``where`` names the tier
            in the message (e.g. ``"option 'conservative', BTC tier 2"``).
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"{where} of the stored proposal must be an object, got {type(d).__name__}.")
        unknown = sorted(set(d) - set(_OPTION_TIER_KEYS))
        missing = [k for k in _OPTION_TIER_KEYS if k not in d and k not in _OPTION_TIER_LATER_KEYS]
        if unknown or missing:
            what = f"has an unknown key {unknown[0]!r}" if unknown else f"is missing {missing[0]!r}"
            raise ValueError(f"{where} of the stored proposal {what}; it was written by another version of "
                             "riskparams.")
        try:
            return cls(**{k: d[k] for k in _OPTION_TIER_KEYS if k in d},
                       absent=frozenset(k for k in _OPTION_TIER_LATER_KEYS if k not in d))
        except ValueError as exc:
            raise ValueError(f"{where} of the stored proposal: {exc}") from None

    def __getitem__(self, key: str) -> Any:
        if key not in _OPTION_TIER_KEYS or key in self.absent:
            raise KeyError(key)
        v = getattr(self, key)
        return _f(v) if isinstance(v, float) else v

    def __iter__(self) -> Iterator[str]:
        return (k for k in _OPTION_TIER_KEYS if k not in self.absent)

    def __len__(self) -> int:
        return len(_OPTION_TIER_KEYS) - len(self.absent)



@dataclass(frozen=True, slots=True, kw_only=True)
class OptionAsset:
    """An asset's parameters under one option (the ``options[].assets[]`` entries of a proposal).

    Perps: ``tiers`` (each an :class:`OptionTier`: ``notional_floor, notional_cap, mmf, imf, max_leverage,
    maintenance_deduction, liquidation_penalty, coverage, horizon_hours, under_covered``) and
    ``position_limit``; lending: ``ltv``, ``liquidation_threshold``, ``liquidation_bonus``, ``coverage``.
    ``capital_cost`` as in the asset proposals.
    """

    symbol: str
    status: str
    capital_cost: float
    position_limit: float | None = None
    tiers: tuple[OptionTier, ...] | None = None
    ltv: float | None = None
    liquidation_threshold: float | None = None
    liquidation_bonus: float | None = None
    coverage: float | None = None

    @classmethod
    def of(cls, a: PerpAssetProposal | LendingAssetProposal) -> OptionAsset:
        """The summary of a full asset proposal."""
        if isinstance(a, PerpAssetProposal):
            return cls(symbol=a.symbol, status=a.status, capital_cost=a.capital_cost, position_limit=a.position_limit,
                       tiers=tuple(OptionTier.of(t) for t in a.tiers))
        return cls(symbol=a.symbol, status=a.status, capital_cost=a.capital_cost, ltv=a.ltv,
                   liquidation_threshold=a.liquidation_threshold, liquidation_bonus=a.liquidation_bonus,
                   coverage=a.coverage)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (perp or lending keys, see the class notes)."""
        if self.tiers is not None:
            return {"symbol": self.symbol, "status": self.status, "capital_cost": _f(self.capital_cost),
                    "position_limit": _f(self.position_limit), "tiers": [t.to_dict() for t in self.tiers]}
        return {"symbol": self.symbol, "status": self.status, "capital_cost": _f(self.capital_cost),
                "ltv": _f(self.ltv), "liquidation_threshold": _f(self.liquidation_threshold),
                "liquidation_bonus": _f(self.liquidation_bonus), "coverage": _f(self.coverage)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OptionAsset:
        """Inverse of :meth:`to_dict`."""
        if "tiers" in d:
            return cls(symbol=d["symbol"], status=d["status"], capital_cost=_nan(d["capital_cost"]),
                       position_limit=d["position_limit"],
                       tiers=tuple(OptionTier.from_dict(t, where=f"{d['symbol']} tier {k + 1} of an option")
                                   for k, t in enumerate(d["tiers"])))
        return cls(symbol=d["symbol"], status=d["status"], capital_cost=_nan(d["capital_cost"]), ltv=d["ltv"],
                   liquidation_threshold=d["liquidation_threshold"], liquidation_bonus=d["liquidation_bonus"],
                   coverage=d["coverage"])


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposalOption:
    """One named variant of the policy (Gauntlet / Chaos Labs style options) and what it gives.

    Attributes
    ----------
    name : str
        ``conservative``, ``moderate``, ``aggressive`` or a policy file's own option.
    recommended : bool
        This option is the proposal's policy itself (its ``assets``).
    differences : Mapping[str, Any]
        Dotted policy keys that differ from the recommended policy, with this option's values.
    assets : tuple of OptionAsset
        The parameters this option proposes.
    """

    name: str
    recommended: bool
    differences: Mapping[str, Any]
    assets: tuple[OptionAsset, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: ``name, recommended, differences, assets``."""
        return {"name": self.name, "recommended": self.recommended, "differences": dict(self.differences),
                "assets": [a.to_dict() for a in self.assets]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProposalOption:
        """Inverse of :meth:`to_dict`."""
        return cls(name=d["name"], recommended=bool(d["recommended"]), differences=dict(d["differences"]),
                   assets=tuple(OptionAsset.from_dict(a) for a in d["assets"]))


def _is_text_list(v: Any) -> bool:
    return isinstance(v, list | tuple) and all(isinstance(x, str) for x in v)


_REVISION_KEYS = ("number", "parent", "root", "by", "justification", "overrides")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposalRevision:
    """The ``provenance.revision`` of a proposal revised by the committee (:func:`riskparams.governance.revise`).

    Attributes
    ----------
    number : int
        Revision number (1 for the first revision of an original proposal).
    parent, root : str
        Proposal ids (SHA-256 hex) of the proposal revised and of the original proposal.
    by : str
        Handle of the member who revised it.
    justification : str
        Why (one or more sentences, as given).
    overrides : tuple of Mapping
        Every override since the original, oldest first, read-only as stored: ``symbol, parameter, tier, old,
        new, revision, by, justification``.
    """

    number: int
    parent: str
    root: str
    by: str
    justification: str
    overrides: tuple[Mapping[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary, as stored."""
        return {"number": self.number, "parent": self.parent, "root": self.root, "by": self.by,
                "justification": self.justification, "overrides": [_thawed(o) for o in self.overrides]}

    @classmethod
    def from_dict(cls, d: Any) -> ProposalRevision:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        DataError
            Not an object, a key missing or unknown, or a value of the wrong type (the message names it).
        """
        from riskparams.exceptions import DataError

        if not isinstance(d, Mapping):
            raise DataError(f"the stored proposal's provenance.revision must be an object, got {type(d).__name__}.")
        unknown = sorted(set(d) - set(_REVISION_KEYS))
        missing = [k for k in _REVISION_KEYS if k not in d]
        if unknown or missing:
            what = f"an unknown key {unknown[0]!r}" if unknown else f"no {missing[0]!r}"
            raise DataError(f"the stored proposal's provenance.revision has {what}; it was written by another "
                            "version of riskparams.")
        number, overrides = d["number"], d["overrides"]
        bad = next((k for k in ("parent", "root", "by", "justification") if not isinstance(d[k], str)), None)
        if not isinstance(number, int) or isinstance(number, bool):
            bad = "number"
        elif bad is None and not (isinstance(overrides, list | tuple) and all(isinstance(o, Mapping)
                                                                              for o in overrides)):
            bad = "overrides"
        if bad is not None:
            raise DataError(f"the stored proposal's provenance.revision.{bad} has the wrong type: {_short_repr(d[bad])}.")
        return cls(number=number, parent=d["parent"], root=d["root"], by=d["by"], justification=d["justification"],
                   overrides=tuple(_frozen(o) for o in overrides))


_PROVENANCE_KEYS = ("packages", "model_specs", "peers", "revision", "options_dropped")


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """A proposal's ``provenance``, typed and read-only (:attr:`Proposal.provenance_info`).

    :meth:`to_dict` gives back exactly the stored mapping (the proposal's hash does not change): keys that were
    not stored stay out, and the model specifications are kept as stored (:attr:`model_specs` reads them as
    :class:`~riskparams.volatility.FitSpec`).

    Attributes
    ----------
    packages : Mapping[str, str]
        Package name -> installed version when the proposal was made (``riskparams``, ``numpy``, ``arch``, ...).
    spec_dicts : Mapping[str, Mapping]
        ``FitSpec.key()`` -> ``FitSpec.to_dict()`` as stored (the ``model_specs`` key of the content).
    peers : tuple of str or None
        ``"venue: source"`` of every peer tier table compared with (None: no peers given).
    revision : ProposalRevision or None
        The committee's revision (None for a proposal as the model made it).
    options_dropped : tuple of str or None
        Options of the parent a revision left out (None unless revised from a proposal with options).
    extra : Mapping
        Any other key, as stored (none written by this riskparams).

    Examples
    --------
    >>> from riskparams.domain import Provenance
    >>> prov = Provenance.from_dict({"packages": {"riskparams": "0.1.0"}, "model_specs": {}})
    >>> prov.packages["riskparams"], prov.revision, prov.to_dict()
    ('0.1.0', None, {'packages': {'riskparams': '0.1.0'}, 'model_specs': {}})
    >>> Provenance.from_dict({"packages": {"numpy": 2}})
    Traceback (most recent call last):
    ...
    riskparams.exceptions.DataError: the stored proposal's provenance.packages must map package names to version text, got 'numpy': 2.
    """

    packages: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    spec_dicts: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    peers: tuple[str, ...] | None = None
    revision: ProposalRevision | None = None
    options_dropped: tuple[str, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    present: frozenset[str] = frozenset(("packages", "model_specs"))
    """Keys of :data:`_PROVENANCE_KEYS` the stored mapping had (so :meth:`to_dict` writes exactly those)."""

    @property
    def model_specs(self) -> Mapping[str, Any]:
        """Spec key -> :class:`~riskparams.volatility.FitSpec` (read from :attr:`spec_dicts`).

        Raises
        ------
        DataError
            A stored specification that is not a valid ``FitSpec`` (the message names its key).
        """
        from riskparams.exceptions import DataError
        from riskparams.volatility import FitSpec

        out = {}
        for key, d in self.spec_dicts.items():
            try:
                out[key] = FitSpec.from_dict(_thawed(d))
            except (TypeError, ValueError) as exc:
                raise DataError(f"the stored model specification {key[:24]!r} is not a valid FitSpec "
                                f"({str(exc).rstrip('.')}).") from None
        return MappingProxyType(out)

    def to_dict(self) -> dict[str, Any]:
        """The provenance as stored (JSON-safe): ``Provenance.from_dict(d).to_dict() == d``."""
        values = {"packages": dict(self.packages),
                  "model_specs": {k: _thawed(v) for k, v in self.spec_dicts.items()},
                  "peers": None if self.peers is None else list(self.peers),
                  "revision": None if self.revision is None else self.revision.to_dict(),
                  "options_dropped": None if self.options_dropped is None else list(self.options_dropped)}
        return {**{k: values[k] for k in _PROVENANCE_KEYS if k in self.present}, **_thawed(self.extra)}

    @classmethod
    def from_dict(cls, d: Any) -> Provenance:
        """Read a proposal's stored ``provenance``.

        Raises
        ------
        DataError
            Not an object, or a known key with a value of the wrong type (one sentence naming the key).
        """
        from riskparams.exceptions import DataError

        where = "the stored proposal's provenance"
        if not isinstance(d, Mapping):
            raise DataError(f"{where} must be an object, got {type(d).__name__}.")
        packages = d.get("packages", {})
        if not isinstance(packages, Mapping):
            raise DataError(f"{where}.packages must be an object, got {type(packages).__name__}.")
        bad = next(((k, v) for k, v in packages.items() if not (isinstance(k, str) and isinstance(v, str))), None)
        if bad is not None:
            raise DataError(f"{where}.packages must map package names to version text, got {bad[0]!r}: {bad[1]!r}.")
        specs = d.get("model_specs", {})
        if not isinstance(specs, Mapping) or not all(isinstance(k, str) and isinstance(v, Mapping)
                                                      for k, v in specs.items()):
            raise DataError(f"{where}.model_specs must map spec keys to objects, got {_short_repr(specs)}.")
        for key in ("peers", "options_dropped"):
            if d.get(key) is not None and not _is_text_list(d[key]):
                raise DataError(f"{where}.{key} must be a list of text, got {_short_repr(d[key])}.")
        return cls(
            packages=MappingProxyType(dict(packages)), spec_dicts=_frozen(specs),
            peers=None if d.get("peers") is None else tuple(d["peers"]),
            revision=None if d.get("revision") is None else ProposalRevision.from_dict(d["revision"]),
            options_dropped=None if d.get("options_dropped") is None else tuple(d["options_dropped"]),
            extra=_frozen({k: v for k, v in d.items() if k not in _PROVENANCE_KEYS}),
            present=frozenset(k for k in _PROVENANCE_KEYS if k in d),
        )


def _short_repr(v: Any) -> str:
    return short(v, 60)


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """A complete proposal: immutable content whose SHA-256 is its id.

    Attributes
    ----------
    profile : Profile
        ``'perp'`` or ``'lending'`` (a ``StrEnum``: compares and serialises as the string).
    as_of : str or None
        ISO-8601 UTC as-of time requested (None: all stored data).
    policy : Mapping
        The policy (``RiskPolicy.to_dict()``), with ``policy_key``, as stored; typed: :attr:`risk_policy`
        (and :attr:`policy_key`).
    assets : tuple of PerpAssetProposal or LendingAssetProposal
    skipped : tuple of SkippedAsset
    provenance : Mapping
        ``packages`` (name -> version), ``model_specs`` (spec key -> FitSpec dict), ``peers`` when peer tables
        were compared, and ``revision`` (with ``options_dropped``) for a committee revision, as stored; typed:
        :attr:`provenance_info` (a :class:`Provenance`).
    options : tuple of ProposalOption
        Named variants of the policy side by side (empty unless asked for); ``assets`` is the
        recommended one.

    Examples
    --------
    :func:`riskparams.propose` makes one (``run.proposal``); its :meth:`content` is what the store keeps
    under the SHA-256, and :meth:`from_content` reads it back exactly:

    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> proposal = riskparams.propose(store, profile="perp", symbols=["ABC"]).proposal
    >>> str(proposal.profile), [a.symbol for a in proposal.assets], proposal.skipped
    ('perp', ['ABC'], ())
    >>> tier = proposal.assets[0].tiers[0]
    >>> tier.imf == 1 / tier.max_leverage and 0 <= tier.liquidation_penalty < tier.mmf < tier.imf
    True
    >>> content = proposal.content()  # JSON-safe
    >>> riskparams.Proposal.from_content(content).id == proposal.id
    True

    The policy and the provenance also read typed:

    >>> proposal.risk_policy.key() == proposal.policy_key == proposal.policy["policy_key"]
    True
    >>> proposal.provenance_info.packages["riskparams"] == riskparams.__version__
    True
    """

    profile: str
    as_of: str | None
    policy: Mapping[str, Any]
    assets: tuple[PerpAssetProposal | LendingAssetProposal, ...]
    skipped: tuple[SkippedAsset, ...]
    provenance: Mapping[str, Any]
    options: tuple[ProposalOption, ...] = ()

    def content(self) -> dict[str, Any]:
        """The hashed content: everything but the id, the creation time and the status."""
        return {
            "format": PROPOSAL_FORMAT,
            "profile": self.profile,
            "as_of": self.as_of,
            "policy": dict(self.policy),
            "assets": [a.to_dict() for a in self.assets],
            "skipped": [s.to_dict() for s in self.skipped],
            "options": [o.to_dict() for o in self.options],
            "provenance": dict(self.provenance),
        }

    @property
    def id(self) -> str:
        """SHA-256 (hex) of :func:`canonical_json` of :meth:`content`."""
        return content_id(self.content())

    @property
    def policy_key(self) -> str | None:
        """The stored ``policy_key`` (:meth:`riskparams.config.RiskPolicy.key` of the policy), None when absent."""
        key = self.policy.get("policy_key")
        return None if key is None else str(key)

    @property
    def risk_policy(self) -> RiskPolicy:
        """:attr:`policy` as the :class:`~riskparams.config.RiskPolicy` the proposal was made with (read with
        :func:`riskparams.config.policy_from_dict`).

        A policy stored before a policy field existed reads with that field's default, so its ``key()`` can differ
        from the stored :attr:`policy_key`, which stays the proposal's record (every proposal in a store written
        before the latest policy fields does); for a proposal made by this riskparams they are equal.

        Raises
        ------
        DataError
            The stored policy is not a valid policy (the message names the key).
        """
        from riskparams.config import policy_from_dict
        from riskparams.exceptions import DataError, PolicyError

        stored = {k: _thawed(v) for k, v in self.policy.items() if k != "policy_key"}
        try:
            policy = policy_from_dict(stored)
        except PolicyError as exc:
            raise DataError(f"the stored proposal's policy is not a valid policy ({str(exc).rstrip('.')}).") from None
        return policy

    @property
    def provenance_info(self) -> Provenance:
        """:attr:`provenance` typed (:class:`Provenance`); ``provenance_info.to_dict() == dict(provenance)``.

        Raises
        ------
        DataError
            A stored provenance key with a value of the wrong type (the message names it).
        """
        return Provenance.from_dict(self.provenance)

    @classmethod
    def from_content(cls, content: Mapping[str, Any]) -> Proposal:
        """Rebuild a proposal from its stored content (:meth:`content`); the round trip is exact.

        Raises
        ------
        ValueError
            Another format, content that does not rebuild to the same hash (written by another version), a policy
            that is not an object, or a provenance that does not read as a :class:`Provenance` (a
            :class:`~riskparams.exceptions.DataError`, naming the key).
        """
        check_format(content, PROPOSAL_FORMAT, "proposal")
        policy = content.get("policy")
        if "policy" in content and not isinstance(policy, Mapping):
            raise ValueError(f"the stored proposal's policy must be an object, got {type(policy).__name__}.")
        if "provenance" in content:
            Provenance.from_dict(content["provenance"])
        try:
            reader = PerpAssetProposal.from_dict if content["profile"] == "perp" else LendingAssetProposal.from_dict
            proposal = cls(
                profile=Profile.parse(content["profile"]), as_of=content["as_of"], policy=dict(content["policy"]),
                assets=tuple(reader(a) for a in content["assets"]),
                skipped=tuple(SkippedAsset(**x) for x in content["skipped"]),
                provenance=dict(content["provenance"]),
                options=tuple(ProposalOption.from_dict(o) for o in content.get("options", [])),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"the stored proposal content does not have this riskparams' shape ({exc}); it was "
                             "written by another version of riskparams.") from None
        if content_id(proposal.content()) != content_id(content):
            raise ValueError("the stored proposal content does not rebuild to the same hash; it was written by "
                             "another version of riskparams.")
        return proposal

    def to_dict(self) -> dict[str, Any]:
        """``{"id": ..., **content}``."""
        return {"id": self.id, **self.content()}


PROPOSAL_FORMAT = "riskparams-proposal-v1"
"""Format tag inside every proposal's content."""


def format_version(tag: object) -> tuple[str, int] | None:
    """``('riskparams-proposal', 1)`` for the format tag ``'riskparams-proposal-v1'``; None for anything else."""
    m = re.fullmatch(r"(riskparams-[a-z]+)-v([0-9]+)", tag) if isinstance(tag, str) else None
    return None if m is None else (m.group(1), int(m.group(2)))


def check_format(content: Mapping[str, Any], expected: str, what: str) -> None:
    """Refuse stored content of another format than ``expected`` (the ``format`` key) in one sentence that
    names the version found: newer than this riskparams reads (upgrade), older, or not a ``what`` at all.

    Raises
    ------
    ValueError
        ``content`` is not a mapping, or its ``format`` is not ``expected``.
    """
    if not isinstance(content, Mapping):
        raise ValueError(f"stored {what} content must be a JSON object, got {type(content).__name__}.")
    tag = content.get("format")
    if tag == expected:
        return
    found, want = format_version(tag), format_version(expected)
    if found is not None and want is not None and found[0] == want[0]:
        if found[1] > want[1]:
            raise ValueError(f"this {what} has format {tag!r}, newer than the {expected!r} this riskparams reads; "
                             "upgrade riskparams to read it.")
        raise ValueError(f"this {what} has format {tag!r}, older than the {expected!r} this riskparams reads.")
    raise ValueError(f"this is not a stored {what}: its format is {tag!r}, this riskparams reads {expected!r}.")




@dataclass(frozen=True, slots=True, kw_only=True)
class SensitivityCell:
    """Tier 1 of one market at one margin period of risk and confidence.

    ``tier1_mmf`` is the proposed tier-1 MMF with every tier's MPOR fixed at ``horizon_hours``;
    ``es_fitted``, ``es_fhs``, ``es_empirical`` the worse tail's expected-shortfall price move over the
    horizon from the fitted law, filtered historical simulation and historical simulation; ``nu`` the
    fitted t degrees of freedom.
    """

    horizon_hours: float
    confidence: float
    tier1_mmf: float
    tier1_max_leverage: float
    es_fitted: float
    es_fhs: float | None
    es_empirical: float | None
    nu: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {k: _f(getattr(self, k)) for k in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sensitivity:
    """How tier 1 of one market moves with the margin period of risk and the confidence."""

    symbol: str
    series: str
    model: str
    basis: str
    cells: tuple[SensitivityCell, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: ``symbol, series, model, basis, cells``."""
        return {"symbol": self.symbol, "series": self.series, "model": self.model, "basis": self.basis,
                "cells": [c.to_dict() for c in self.cells]}
