"""Risk policies: frozen, validated specifications, loadable from TOML.

A :class:`RiskPolicy` says how a committee turns volatility forecasts into parameters: which
tail quantity, over which horizon, with which anti-procyclicality tools, guardrails and rounding.
It is frozen (hashable content, :meth:`RiskPolicy.key`) and validated on construction: a bad value
raises :class:`~riskparams.exceptions.PolicyError` naming the dotted key and its allowed range, in
one sentence. :func:`load_policy` reads a TOML file; unknown keys are errors too. The documented
example ``riskparams/examples/policy.toml`` (:func:`example_policy_path`) spells out every key with
its default, so ``RiskPolicy()`` equals the example file.

Units: fractions (0.03 = 3 %) unless a name says ``bps``; notionals and ADV in quote currency
(e.g. USD); the horizon in hours.

TOML schema (defaults in brackets)
----------------------------------
Top level:

* ``confidence`` [0.99]: confidence ``q`` of the covered move, in [0.9, 0.9999].
* ``horizon_hours`` [24.0]: margin period of risk in hours, in (0, 720].
* ``measure`` ["es"]: ``"var"`` or ``"es"``: which tail quantity is the covered move.
* ``liquidator_incentive`` [0.005]: incentive floor ``i`` paid to liquidators, in [0, 0.2].

``[model]``: the volatility model, any :class:`~riskparams.volatility.FitSpec` field except
``horizon_hours`` and ``confidence`` (set at the top level): ``model`` ["auto"], ``dist`` ["t"],
``mean`` ["zero"], ``candidates``, ``min_history`` [500], ``ewma_lambda``, ``risk_method``
["fitted"], ``n_sims`` [10000], ``seed``, ``stress_window``, ``max_persistence``,
``max_half_life_days``, ``allow_gaps``, ... (ranges as in ``FitSpec``).

``[perp]``:

* ``tier_breakpoints`` [[0, 1e6, 5e6, 2e7, 1e8]]: notional floors of the tiers; starts at 0,
  strictly increasing; the last tier is open-ended.
* ``last_tier_cost_notional`` [2e8]: notional at which the close-out cost of an open-ended last
  tier is computed; above the last breakpoint.
* ``use_current_brackets`` [true]: when current parameters are given for an asset, propose on its
  current notional brackets (so every row compares like with like) instead of ``tier_breakpoints``.
* ``maintenance_fraction`` [0.5]: MMF as a share of IMF, in [0.05, 0.95].
* ``leverage_grid`` [[1, 2, 3, 5, 10, 20, 25, 50]]: allowed max leverages, each in [1, 1000],
  no duplicates (sorted on load).
* ``insurance_fund`` [50e6]: the venue's insurance fund, quote currency, [0, 1e15]; and
  ``loss_budget`` [0.1]: the share of it one market's stressed bad debt may take, [0, 1]. Together the
  loss budget of the open-interest cap (:mod:`riskparams.book.caps`).

``[lending]``:

* ``ltv_buffer`` [0.05]: LTV = LT - buffer, in [0, 0.5].
* ``reference_liquidation_notional`` [1e6]: liquidation size whose close-out cost sets the
  bonus, > 0.
* ``insurance_fund`` [400e6]: the reserve that absorbs bad debt (Aave's Safety Module held about $400M
  when Chaos Labs set its target loss at 0.1 % of it), quote currency; ``loss_budget`` [0.01]: the share of
  it one asset's stressed bad debt may take, [0, 1]; ``borrow_cap_share`` [0.8]: borrow cap as a share of
  the supply cap, (0, 1]; ``isolated_assets`` [[]]: symbols in isolation mode (they get a debt ceiling).

``[liquidity]``:

* ``half_spread`` [0.0005]: half the bid-ask spread, in [0, 0.05].
* ``impact_k`` [1.0]: coefficient ``k`` of the square-root impact law, in [0, 10].
* ``adv_window_days`` [30]: days of stored volume x close averaged into the ADV, in [1, 3650].
* ``[liquidity.adv_override]`` [empty]: ``SYMBOL = ADV`` (quote currency, > 0) replacing the
  stored-volume estimate for those symbols.

``[apc]`` (anti-procyclicality, EMIR RTS 153/2013 Art. 28; each tool switchable):

* ``buffer_enabled`` [false], ``buffer`` [0.25] in [0.25, 1]: (a) the covered move times
  ``1 + buffer``, released in stress, i.e. when the forecast volatility is at least
  ``buffer_release_ratio`` [0.8] (in (0, 1]) times the stressed volatility.
* ``stressed_weight_enabled`` [false], ``stressed_weight`` [0.25] in [0.25, 1]: (b) weight of
  the stressed-period move in a blend with the current one.
* ``long_run_floor_enabled`` [true]: (c) the covered move is at least the move at the long-run
  volatility; ``long_run_source`` ["lookback"]: ``"lookback"`` (root mean conditional variance
  over the fitted history) or ``"model"`` (the model's unconditional volatility; the lookback
  value is used when that is not finite).

``[guardrails]`` (relative to the current parameters, when given):

* ``max_relative_change`` [0.5]: largest relative change of any parameter per proposal, in
  (0, 10].
* ``dead_band`` [0.05]: relative changes at most this keep the current value, in
  [0, max_relative_change).
* ``[guardrails.lending_max_change_bps]``: absolute limits per proposal in bps, each in
  (0, 10000]: ``ltv`` [500], ``liquidation_threshold`` [500], ``liquidation_bonus`` [250].

``[rounding]`` (always in the safe direction; steps in (0, 0.05]):

* ``mmf_step`` [0.001]: MMF rounded **up** to 10 bps.
* ``penalty_step`` [0.0005]: liquidation penalty rounded up to 5 bps (then capped, rounding
  down, at what maintenance leaves after the covered move).
* ``lending_step`` [0.005]: LT and LTV rounded **down**, the bonus rounded **up**, to 50 bps.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from riskparams.domain import parse_choice, validate_symbol
from riskparams.exceptions import PolicyError
from riskparams.jsonio import canonical_json, sha256_hex
from riskparams.volatility import FitSpec

__all__ = [
    "APCPolicy",
    "Combine",
    "ModelRiskPolicy",
    "MporPolicy",
    "builtin_options",
    "policy_differences",
    "policy_with",
    "GuardrailPolicy",
    "LendingPolicy",
    "LiquidityPolicy",
    "LongRunSource",
    "Measure",
    "PerpPolicy",
    "RiskPolicy",
    "RoundingPolicy",
    "example_policy_path",
    "load_policy",
    "policy_from_dict",
    "policy_from_stored",
]

LENDING_PARAMS: tuple[str, ...] = ("ltv", "liquidation_threshold", "liquidation_bonus")


class Measure(StrEnum):
    """Tail quantity of the covered move: Value-at-Risk or Expected Shortfall."""

    VAR = "var"
    ES = "es"


class LongRunSource(StrEnum):
    """Where the long-run volatility of the anti-procyclicality floor comes from."""

    LOOKBACK = "lookback"
    MODEL = "model"


# ---------------------------------------------------------------------------------------------
# validation helpers: each raises PolicyError naming the dotted key and the allowed range
# ---------------------------------------------------------------------------------------------


def _rng(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def _num(path: str, v: object, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    allowed = _rng(lo, hi, lo_open, hi_open)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
        raise PolicyError(f"{path} must be a number in {allowed}, got {v!r}")
    x = float(v)
    if x < lo or x > hi or (lo_open and x == lo) or (hi_open and x == hi):
        raise PolicyError(f"{path} must be in {allowed}, got {v!r}")
    return x


def _int(path: str, v: object, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise PolicyError(f"{path} must be a whole number in [{lo}, {hi}], got {v!r}")
    if not lo <= v <= hi:
        raise PolicyError(f"{path} must be in [{lo}, {hi}], got {v!r}")
    return int(v)


def _bool(path: str, v: object) -> bool:
    if not isinstance(v, bool):
        raise PolicyError(f"{path} must be true or false, got {v!r}")
    return v


def _enum(path: str, enum: type[StrEnum], v: object) -> Any:
    return parse_choice(enum, path, v, error=PolicyError)


def _numbers(path: str, v: object, lo: float, hi: float, *, min_len: int = 1) -> tuple[float, ...]:
    if isinstance(v, str | bytes) or not isinstance(v, Sequence) or len(v) < min_len:
        raise PolicyError(f"{path} must be a list of at least {min_len} numbers in [{lo:g}, {hi:g}], got {v!r}")
    return tuple(_num(f"{path}[{i}]", x, lo, hi) for i, x in enumerate(v))


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


# ---------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PerpPolicy:
    """Perpetuals: tiers, maintenance fraction and leverage grid (section ``[perp]``).

    Parameters
    ----------
    tier_breakpoints : tuple of float, shape (n_tiers,)
        Notional floors of the tiers (quote currency): 0 first, strictly increasing.
    last_tier_cost_notional : float
        Notional at which the close-out cost of the open-ended last tier is computed (quote
        currency), greater than the last breakpoint.
    use_current_brackets : bool
        Propose on the current notional brackets of an asset when they are given.
    maintenance_fraction : float
        MMF as a share of IMF, in [0.05, 0.95] (0.5: maintenance is half the initial margin).
    leverage_grid : tuple of float
        Allowed max leverages, each in [1, 1000], sorted ascending, no duplicates.
    insurance_fund : float
        The venue's insurance fund, quote currency, in [0, 1e15].
    loss_budget : float
        Share of the insurance fund one market's stressed bad debt may take (the open-interest cap's loss
        budget, :mod:`riskparams.book.caps`), in [0, 1].
    """

    SECTION: ClassVar[str] = "perp"
    tier_breakpoints: tuple[float, ...] = (0.0, 1e6, 5e6, 2e7, 1e8)
    last_tier_cost_notional: float = 2e8
    use_current_brackets: bool = True
    maintenance_fraction: float = 0.5
    leverage_grid: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0,
                                        50.0, 75.0, 100.0, 125.0)
    reference_notional: float = 250_000.0
    insurance_fund: float = 50_000_000.0
    loss_budget: float = 0.1

    def __post_init__(self) -> None:
        s = self.SECTION
        bp = _numbers(f"{s}.tier_breakpoints", self.tier_breakpoints, 0.0, 1e15)
        if bp[0] != 0.0:
            raise PolicyError(f"{s}.tier_breakpoints must start at 0, got {bp[0]:g}")
        for i in range(1, len(bp)):
            if not bp[i] > bp[i - 1]:
                raise PolicyError(
                    f"{s}.tier_breakpoints must be strictly increasing, got {bp[i]:g} after {bp[i - 1]:g}"
                )
        _set(self, "tier_breakpoints", bp)
        last = _num(f"{s}.last_tier_cost_notional", self.last_tier_cost_notional, bp[-1], 1e15, lo_open=True)
        _set(self, "last_tier_cost_notional", last)
        _set(self, "use_current_brackets", _bool(f"{s}.use_current_brackets", self.use_current_brackets))
        _set(self, "maintenance_fraction",
             _num(f"{s}.maintenance_fraction", self.maintenance_fraction, 0.05, 0.95))
        grid = _numbers(f"{s}.leverage_grid", self.leverage_grid, 1.0, 1000.0)
        if len(set(grid)) != len(grid):
            raise PolicyError(f"{s}.leverage_grid must not repeat a leverage, got {list(grid)}")
        _set(self, "leverage_grid", tuple(sorted(grid)))
        _set(self, "reference_notional",
             _num(f"{s}.reference_notional", self.reference_notional, 0.0, 1e15, lo_open=True))
        _set(self, "insurance_fund", _num(f"{s}.insurance_fund", self.insurance_fund, 0.0, 1e15))
        _set(self, "loss_budget", _num(f"{s}.loss_budget", self.loss_budget, 0.0, 1.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class MporPolicy:
    """The margin period of risk of each perpetual tier, from its parts (section ``[mpor]``).

    ``MPOR_k = oracle latency + liquidation delay + close-out time of the tier's notional``, where
    the close-out time is ``N_k / (participation_rate * ADV / 24)`` hours: the liquidation trades at
    most that share of the market's volume. Floored at ``min_hours``; a tier that needs more than
    ``max_hours`` is not offered (the position limit is its floor). With ``fixed_hours > 0`` every
    tier uses that MPOR instead (a clearing-house style flat horizon; also what
    ``riskparams sensitivity`` varies).

    Parameters
    ----------
    oracle_latency_minutes : float
        Minutes from a market move to the venue's mark price, in [0, 1440].
    liquidation_delay_minutes : float
        Minutes from an account crossing maintenance to the liquidation starting, in [0, 1440].
    participation_rate : float
        Largest share of the market's traded volume a close-out may take, in (0, 1].
    min_hours : float
        Floor on every tier's MPOR, hours, in [0, 720].
    max_hours : float
        Longest MPOR offered, hours, in (0, 720]; also how far the volatility term structure reaches.
    fixed_hours : float
        0 (off) or a flat MPOR in hours for every tier, in (0, max_hours].
    """

    SECTION: ClassVar[str] = "mpor"
    oracle_latency_minutes: float = 1.0
    liquidation_delay_minutes: float = 5.0
    participation_rate: float = 0.1
    min_hours: float = 0.0
    max_hours: float = 72.0
    fixed_hours: float = 0.0

    def __post_init__(self) -> None:
        s = self.SECTION
        _set(self, "oracle_latency_minutes", _num(f"{s}.oracle_latency_minutes", self.oracle_latency_minutes, 0, 1440))
        _set(self, "liquidation_delay_minutes",
             _num(f"{s}.liquidation_delay_minutes", self.liquidation_delay_minutes, 0, 1440))
        _set(self, "participation_rate", _num(f"{s}.participation_rate", self.participation_rate, 0, 1, lo_open=True))
        mx = _num(f"{s}.max_hours", self.max_hours, 0, 720, lo_open=True)
        _set(self, "max_hours", mx)
        _set(self, "min_hours", _num(f"{s}.min_hours", self.min_hours, 0, mx))
        _set(self, "fixed_hours", _num(f"{s}.fixed_hours", self.fixed_hours, 0, mx))
        if self.oracle_latency_minutes + self.liquidation_delay_minutes <= 0 and self.min_hours <= 0 \
                and self.fixed_hours <= 0:
            raise PolicyError(f"{s}: oracle_latency_minutes + liquidation_delay_minutes must be > 0 (or set min_hours "
                              "or fixed_hours), got 0: a margin period of risk cannot be zero")

    @property
    def fixed_part_hours(self) -> float:
        """Oracle latency plus liquidation delay, hours."""
        return (self.oracle_latency_minutes + self.liquidation_delay_minutes) / 60.0


class Combine(StrEnum):
    """How the model-risk band's covered moves (fitted law, FHS, historical simulation) combine."""

    FITTED = "fitted"
    FHS = "fhs"
    EMPIRICAL = "empirical"
    MEDIAN = "median"
    MAX = "max"
    MIN = "min"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRiskPolicy:
    """How the three estimates of the tail combine into the covered move (section ``[model_risk]``).

    Parameters
    ----------
    combine : {'median', 'max', 'min', 'fitted', 'fhs', 'empirical'}
        ``median`` of the three (robust to one method's outlier; of the two available when filtered
        historical simulation is not), ``max`` (most conservative), ``min``, or one method alone.
    """

    SECTION: ClassVar[str] = "model_risk"
    combine: Combine = Combine.MEDIAN

    def __post_init__(self) -> None:
        _set(self, "combine", _enum(f"{self.SECTION}.combine", Combine, self.combine))


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingPolicy:
    """Lending: LTV buffer and the reference liquidation size (section ``[lending]``).

    Parameters
    ----------
    ltv_buffer : float
        LTV = LT - ltv_buffer, in [0, 0.5].
    reference_liquidation_notional : float
        Liquidation size (quote currency) whose close-out cost sets the bonus, > 0.
    insurance_fund : float
        Reserve absorbing bad debt (a safety module), quote currency, in [0, 1e15].
    loss_budget : float
        Share of ``insurance_fund`` one asset's stressed bad debt may take (supply cap), in [0, 1].
    borrow_cap_share : float
        Borrow cap as a share of the supply cap, in (0, 1].
    isolated_assets : tuple of str
        Symbols in isolation mode: they get a debt ceiling of LTV x supply cap.
    """

    SECTION: ClassVar[str] = "lending"
    ltv_buffer: float = 0.05
    reference_liquidation_notional: float = 5e6
    liquidator_hold_hours: float = 1.0
    bonus_confidence: float = 0.99
    liquidity_venue: str = ""
    liquidity_curve: str = ""
    debt_asset: str = "USDC"
    stablecoins: tuple[str, ...] = ("USDC", "USDT", "DAI", "USDS", "GHO", "FRAX", "LUSD", "PYUSD", "USDE", "USD")
    insurance_fund: float = 400_000_000.0
    loss_budget: float = 0.01
    borrow_cap_share: float = 0.8
    isolated_assets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        s = self.SECTION
        _set(self, "ltv_buffer", _num(f"{s}.ltv_buffer", self.ltv_buffer, 0.0, 0.5))
        _set(self, "reference_liquidation_notional",
             _num(f"{s}.reference_liquidation_notional", self.reference_liquidation_notional, 0.0, 1e15,
                  lo_open=True))
        _set(self, "liquidator_hold_hours", _num(f"{s}.liquidator_hold_hours", self.liquidator_hold_hours, 0, 168,
                                                 lo_open=True))
        _set(self, "bonus_confidence", _num(f"{s}.bonus_confidence", self.bonus_confidence, 0.5, 0.9999,
                                            lo_open=True))
        for name in ("liquidity_venue", "liquidity_curve"):
            v = getattr(self, name)
            if not isinstance(v, str) or len(v) > 200 or any(ord(c) < 32 for c in v):
                raise PolicyError(f"{s}.{name} must be a short text (at most 200 characters), got {v!r}")
        try:
            _set(self, "debt_asset", validate_symbol(str(self.debt_asset)))
        except ValueError as exc:
            raise PolicyError(f"{s}.debt_asset: {exc}") from None
        st = self.stablecoins
        if isinstance(st, str) or not isinstance(st, Sequence):
            raise PolicyError(f"{s}.stablecoins must be a list of symbols, got {st!r}")
        try:
            _set(self, "stablecoins", tuple(validate_symbol(str(x)) for x in st))
        except ValueError as exc:
            raise PolicyError(f"{s}.stablecoins: {exc}") from None
        _set(self, "insurance_fund", _num(f"{s}.insurance_fund", self.insurance_fund, 0.0, 1e15))
        _set(self, "loss_budget", _num(f"{s}.loss_budget", self.loss_budget, 0.0, 1.0))
        _set(self, "borrow_cap_share", _num(f"{s}.borrow_cap_share", self.borrow_cap_share, 0.0, 1.0, lo_open=True))
        iso = self.isolated_assets
        if isinstance(iso, str) or not isinstance(iso, Sequence):
            raise PolicyError(f"{s}.isolated_assets must be a list of symbols, got {iso!r}")
        try:
            _set(self, "isolated_assets", tuple(validate_symbol(str(x)) for x in iso))
        except ValueError as exc:
            raise PolicyError(f"{s}.isolated_assets: {exc}") from None

    def debt_is_stable(self, debt: str | None = None) -> bool:
        """Whether ``debt`` (default the policy's debt asset) is one of the stablecoins (priced at 1 quote unit)."""
        return (debt or self.debt_asset).upper() in self.stablecoins


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidityPolicy:
    """Close-out cost model ``half_spread + impact_k * sigma_daily * sqrt(N / ADV)`` (``[liquidity]``).

    Parameters
    ----------
    half_spread : float
        Half the bid-ask spread, fraction, in [0, 0.05].
    impact_k : float
        Square-root impact coefficient (dimensionless), in [0, 10].
    adv_window_days : int
        Days of stored ``volume * close`` averaged into the ADV (quote currency per day), in [1, 3650].
    adv_override : Mapping[str, float]
        Symbol (upper-cased) to ADV in quote currency (> 0), replacing the stored-volume estimate.
    """

    SECTION: ClassVar[str] = "liquidity"
    half_spread: float = 0.0005
    impact_k: float = 1.0
    adv_window_days: int = 30
    adv_override: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        s = self.SECTION
        _set(self, "half_spread", _num(f"{s}.half_spread", self.half_spread, 0.0, 0.05))
        _set(self, "impact_k", _num(f"{s}.impact_k", self.impact_k, 0.0, 10.0))
        _set(self, "adv_window_days", _int(f"{s}.adv_window_days", self.adv_window_days, 1, 3650))
        if not isinstance(self.adv_override, Mapping):
            raise PolicyError(f"{s}.adv_override must be a table of SYMBOL = ADV, got {self.adv_override!r}")
        out: dict[str, float] = {}
        for k, v in self.adv_override.items():
            try:
                sym = validate_symbol(str(k))
            except ValueError as exc:
                raise PolicyError(f"{s}.adv_override: {exc}") from None
            out[sym] = _num(f"{s}.adv_override.{k}", v, 0.0, 1e15, lo_open=True)
        _set(self, "adv_override", MappingProxyType(dict(sorted(out.items()))))

    def __hash__(self) -> int:
        return hash((self.half_spread, self.impact_k, self.adv_window_days, tuple(self.adv_override.items())))


@dataclass(frozen=True, slots=True, kw_only=True)
class APCPolicy:
    """Anti-procyclicality tools, each switchable (section ``[apc]``).

    Parameters
    ----------
    buffer_enabled : bool
        (a) Multiply the covered move by ``1 + buffer`` outside stress.
    buffer : float
        In [0.25, 1] (EMIR: at least 25 %).
    buffer_release_ratio : float
        In (0, 1]: stress, and so buffer release, when the forecast volatility is at least this
        times the stressed volatility.
    stressed_weight_enabled : bool
        (b) Blend the current move with the stressed-period move.
    stressed_weight : float
        Weight of the stressed move, in [0.25, 1] (EMIR: at least 25 %).
    long_run_floor_enabled : bool
        (c) Floor the move at the move at long-run volatility.
    long_run_source : {'lookback', 'model'}
        Source of the long-run volatility.
    """

    SECTION: ClassVar[str] = "apc"
    buffer_enabled: bool = False
    buffer: float = 0.25
    buffer_release_ratio: float = 0.8
    stressed_weight_enabled: bool = False
    stressed_weight: float = 0.25
    long_run_floor_enabled: bool = True
    long_run_source: LongRunSource = LongRunSource.LOOKBACK

    def __post_init__(self) -> None:
        s = self.SECTION
        _set(self, "buffer_enabled", _bool(f"{s}.buffer_enabled", self.buffer_enabled))
        _set(self, "buffer", _num(f"{s}.buffer", self.buffer, 0.25, 1.0))
        _set(self, "buffer_release_ratio",
             _num(f"{s}.buffer_release_ratio", self.buffer_release_ratio, 0.0, 1.0, lo_open=True))
        _set(self, "stressed_weight_enabled", _bool(f"{s}.stressed_weight_enabled", self.stressed_weight_enabled))
        _set(self, "stressed_weight", _num(f"{s}.stressed_weight", self.stressed_weight, 0.25, 1.0))
        _set(self, "long_run_floor_enabled", _bool(f"{s}.long_run_floor_enabled", self.long_run_floor_enabled))
        _set(self, "long_run_source", _enum(f"{s}.long_run_source", LongRunSource, self.long_run_source))


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardrailPolicy:
    """Limits on how far one proposal may move a parameter from its current value (``[guardrails]``).

    Parameters
    ----------
    max_relative_change : float
        Largest ``|proposed - current| / current`` per parameter, in (0, 10].
    dead_band : float
        Relative changes up to this keep the current value, in [0, max_relative_change).
    loosen_in_stress : bool
        When false (default), no margin parameter loosens against the current one while the asset's
        regime is stress (perps: MMF and IMF, i.e. max leverage; lending: LTV and LT): it is held at the
        current value (``bound='stress_hold'``). When true it may, and the rationale says so.
    lending_max_change_bps : Mapping[str, float]
        Absolute limit per proposal (bps) for ``ltv``, ``liquidation_threshold`` and
        ``liquidation_bonus``, each in (0, 10000].
    """

    SECTION: ClassVar[str] = "guardrails"
    max_relative_change: float = 0.5
    dead_band: float = 0.05
    loosen_in_stress: bool = False
    lending_max_change_bps: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {"ltv": 500.0, "liquidation_threshold": 500.0, "liquidation_bonus": 250.0}
        )
    )

    def __post_init__(self) -> None:
        s = self.SECTION
        mrc = _num(f"{s}.max_relative_change", self.max_relative_change, 0.0, 10.0, lo_open=True)
        _set(self, "max_relative_change", mrc)
        _set(self, "dead_band", _num(f"{s}.dead_band", self.dead_band, 0.0, mrc, hi_open=True))
        _set(self, "loosen_in_stress", _bool(f"{s}.loosen_in_stress", self.loosen_in_stress))
        given = self.lending_max_change_bps
        if not isinstance(given, Mapping):
            raise PolicyError(f"{s}.lending_max_change_bps must be a table, got {given!r}")
        unknown = sorted(set(given) - set(LENDING_PARAMS))
        if unknown:
            raise PolicyError(
                f"unknown key {s}.lending_max_change_bps.{unknown[0]} (allowed: {', '.join(LENDING_PARAMS)})"
            )
        defaults = {"ltv": 500.0, "liquidation_threshold": 500.0, "liquidation_bonus": 250.0}
        out = {
            k: _num(f"{s}.lending_max_change_bps.{k}", given.get(k, defaults[k]), 0.0, 10000.0, lo_open=True)
            for k in LENDING_PARAMS
        }
        _set(self, "lending_max_change_bps", MappingProxyType(out))

    def __hash__(self) -> int:
        return hash((self.max_relative_change, self.dead_band, self.loosen_in_stress,
                     tuple(self.lending_max_change_bps.items())))


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundingPolicy:
    """Rounding steps, applied in the safe direction (section ``[rounding]``).

    Parameters
    ----------
    mmf_step : float
        MMF rounded up to a multiple of this (0.001 = 10 bps), in (0, 0.05].
    penalty_step : float
        Penalty rounded up (0.0005 = 5 bps), in (0, 0.05].
    lending_step : float
        LT and LTV rounded down, bonus rounded up (0.005 = 50 bps), in (0, 0.05].
    """

    SECTION: ClassVar[str] = "rounding"
    mmf_step: float = 0.001
    penalty_step: float = 0.0005
    lending_step: float = 0.005

    def __post_init__(self) -> None:
        s = self.SECTION
        for name in ("mmf_step", "penalty_step", "lending_step"):
            _set(self, name, _num(f"{s}.{name}", getattr(self, name), 0.0, 0.05, lo_open=True))


# ---------------------------------------------------------------------------------------------
# the policy
# ---------------------------------------------------------------------------------------------

_MODEL_AT_TOP = ("horizon_hours", "confidence")


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskPolicy:
    """A committee's risk policy. Frozen and validated (see the module docstring for every key).

    Parameters
    ----------
    confidence : float
        Confidence ``q`` of the covered move, in [0.9, 0.9999].
    horizon_hours : float
        Margin period of risk, hours, in (0, 720].
    measure : {'var', 'es'}
        Tail quantity of the covered move.
    liquidator_incentive : float
        Incentive floor ``i`` (fraction of notional), in [0, 0.2].
    model : FitSpec
        Volatility model; its ``horizon_hours`` and ``confidence`` are replaced by the policy's.
    perp, lending, liquidity, apc, guardrails, rounding
        The sections.

    Examples
    --------
    The defaults are the documented example policy (``riskparams/examples/policy.toml``):

    >>> import riskparams
    >>> policy = riskparams.RiskPolicy()
    >>> policy.confidence, str(policy.measure), policy.perp.leverage_grid[-3:]
    (0.99, 'es', (75.0, 100.0, 125.0))
    >>> stricter = riskparams.RiskPolicy(confidence=0.995)  # propose(..., policy=stricter)
    >>> stricter.key() == policy.key()
    False
    >>> riskparams.RiskPolicy(confidence=1.5)
    Traceback (most recent call last):
    ...
    riskparams.exceptions.PolicyError: confidence must be in [0.9, 0.9999], got 1.5
    """

    confidence: float = 0.99
    horizon_hours: float = 24.0
    measure: Measure = Measure.ES
    liquidator_incentive: float = 0.005
    model: FitSpec = field(default_factory=FitSpec)
    mpor: MporPolicy = field(default_factory=MporPolicy)
    model_risk: ModelRiskPolicy = field(default_factory=ModelRiskPolicy)
    perp: PerpPolicy = field(default_factory=PerpPolicy)
    lending: LendingPolicy = field(default_factory=LendingPolicy)
    liquidity: LiquidityPolicy = field(default_factory=LiquidityPolicy)
    apc: APCPolicy = field(default_factory=APCPolicy)
    guardrails: GuardrailPolicy = field(default_factory=GuardrailPolicy)
    rounding: RoundingPolicy = field(default_factory=RoundingPolicy)
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({"recommended": "moderate"}))

    def __post_init__(self) -> None:
        q = _num("confidence", self.confidence, 0.9, 0.9999)
        h = _num("horizon_hours", self.horizon_hours, 0.0, 720.0, lo_open=True)
        _set(self, "confidence", q)
        _set(self, "horizon_hours", h)
        _set(self, "measure", _enum("measure", Measure, self.measure))
        _set(self, "liquidator_incentive", _num("liquidator_incentive", self.liquidator_incentive, 0.0, 0.2))
        for name, cls in (
            ("model", FitSpec), ("mpor", MporPolicy), ("model_risk", ModelRiskPolicy), ("perp", PerpPolicy),
            ("lending", LendingPolicy), ("liquidity", LiquidityPolicy), ("apc", APCPolicy),
            ("guardrails", GuardrailPolicy), ("rounding", RoundingPolicy),
        ):
            if not isinstance(getattr(self, name), cls):
                raise PolicyError(f"{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}")
        m = self.model
        if m.horizon_hours != h or m.confidence != q:
            d = m.to_dict()
            d.update(horizon_hours=h, confidence=q)
            _set(self, "model", FitSpec.from_dict(d))
        _set(self, "options", _validate_options(self.options))

    def __hash__(self) -> int:
        return hash(self.key())

    @property
    def recommended_option(self) -> str:
        """Name of the option this policy itself is (``options.recommended``, default ``moderate``)."""
        return str(self.options["recommended"])

    def option_overrides(self) -> dict[str, dict[str, Any]]:
        """Every option by name -> its overrides (dotted keys) relative to this policy: the built-in
        presets (:func:`builtin_options`) updated by the policy file's ``[options.NAME]`` tables; the
        recommended option has none."""
        out = builtin_options(self)
        for name, ov in self.options.items():
            if name != "recommended":
                out[name] = dict(ov)
        out[self.recommended_option] = {}
        return out

    # -- conversion --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary in the TOML layout (``policy_from_dict(p.to_dict()) == p``; options as
        ``{"recommended": name, NAME: {dotted key: value}}``)."""
        model = {k: v for k, v in self.model.to_dict().items() if k not in _MODEL_AT_TOP}
        out: dict[str, Any] = {
            "confidence": self.confidence,
            "horizon_hours": self.horizon_hours,
            "measure": self.measure.value,
            "liquidator_incentive": self.liquidator_incentive,
            "model": model,
        }
        for name in _SECTIONS:
            sec = getattr(self, name)
            d: dict[str, Any] = {}
            for f in fields(sec):
                v = getattr(sec, f.name)
                if isinstance(v, StrEnum):
                    v = v.value
                elif isinstance(v, tuple):
                    v = list(v)
                elif isinstance(v, Mapping):
                    v = dict(v)
                d[f.name] = v
            out[name] = d
        out["options"] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.options.items()}
        return out

    def key(self) -> str:
        """``"policy-v1-"`` + SHA-256 of the canonical JSON of :meth:`to_dict`."""
        return "policy-v1-" + sha256_hex(canonical_json(self.to_dict(), ascii_only=True))

    def describe(self) -> str:
        """One line for humans, e.g. ``'ES 99% over 24h; APC: buffer 25%, long-run floor'``."""
        tools = []
        if self.apc.buffer_enabled:
            tools.append(f"buffer {self.apc.buffer:.0%} (released at {self.apc.buffer_release_ratio:.0%} of "
                         "stressed vol)")
        if self.apc.stressed_weight_enabled:
            tools.append(f"stressed weight {self.apc.stressed_weight:.0%}")
        if self.apc.long_run_floor_enabled:
            tools.append(f"long-run floor ({self.apc.long_run_source.value})")
        g = self.guardrails
        return (
            f"{self.measure.value.upper()} {self.confidence:.2%}; {self.describe_mpor()}; lending horizon "
            f"{self.horizon_hours:g}h; model risk: {self.model_risk.combine.value} of fitted/FHS/historical; "
            f"APC: {', '.join(tools) if tools else 'none'}; guardrails: max change {g.max_relative_change:.0%}, "
            f"dead-band {g.dead_band:.0%}{', may loosen in stress' if g.loosen_in_stress else ''}"
        )

    def describe_mpor(self) -> str:
        """The perpetual margin period of risk in words, e.g. ``'MPOR 1 min oracle + 5 min delay + close-out
        at 10% of ADV'``."""
        m = self.mpor
        if m.fixed_hours > 0:
            return f"MPOR fixed at {m.fixed_hours:g}h"
        floor = f", at least {m.min_hours:g}h" if m.min_hours > 0 else ""
        return (f"MPOR {m.oracle_latency_minutes:g} min oracle + {m.liquidation_delay_minutes:g} min delay + "
                f"close-out at {m.participation_rate:.0%} of ADV{floor} (max {m.max_hours:g}h)")


_SECTIONS: dict[str, type] = {
    "mpor": MporPolicy,
    "model_risk": ModelRiskPolicy,
    "perp": PerpPolicy,
    "lending": LendingPolicy,
    "liquidity": LiquidityPolicy,
    "apc": APCPolicy,
    "guardrails": GuardrailPolicy,
    "rounding": RoundingPolicy,
}
_TOP_KEYS = ("confidence", "horizon_hours", "measure", "liquidator_incentive")


def _check_keys(path: str, given: Mapping[str, Any], allowed: Sequence[str]) -> None:
    for k in given:
        if k not in allowed:
            where = f"{path}.{k}" if path else str(k)
            raise PolicyError(f"unknown key {where} (allowed: {', '.join(allowed)})")


def policy_from_stored(d: Mapping[str, Any], what: str) -> RiskPolicy:
    """The policy a stored record holds (``RiskPolicy.to_dict()`` with its ``policy_key``), checked: it must be a
    valid policy and rebuild to the stored key.

    Parameters
    ----------
    d : Mapping
        The stored policy (plain JSON values).
    what : str
        The record, named in the error, e.g. ``"the stored sweep's base policy"``.

    Raises
    ------
    DataError
        Not a valid policy, or it rebuilds to another ``policy_key`` (written by another version).
    """
    from riskparams.exceptions import DataError

    stored = dict(d)
    key = stored.pop("policy_key", None)
    try:
        policy = policy_from_dict(stored)
    except PolicyError as exc:
        raise DataError(f"{what} is not a valid policy: {exc}") from None
    if key is not None and policy.key() != key:
        raise DataError(f"{what} rebuilds to policy key {policy.key()}, not the stored {key}; it was written by "
                        "another version of riskparams.")
    return policy


def policy_from_dict(d: Mapping[str, Any]) -> RiskPolicy:
    """Build a :class:`RiskPolicy` from a mapping in the TOML layout (missing keys: defaults).

    Raises
    ------
    PolicyError
        An unknown key, a value of the wrong type or out of range (the message names the dotted key
        and the allowed range).

    Examples
    --------
    >>> import riskparams
    >>> policy = riskparams.policy_from_dict({"confidence": 0.995, "perp": {"leverage_grid": [1, 2, 5, 10]}})
    >>> policy.confidence, policy.perp.leverage_grid
    (0.995, (1.0, 2.0, 5.0, 10.0))
    >>> riskparams.policy_from_dict({"perp": {"max_leverage": 500}})
    Traceback (most recent call last):
    ...
    riskparams.exceptions.PolicyError: unknown key perp.max_leverage (allowed: tier_breakpoints, ...)
    """
    if not isinstance(d, Mapping):
        raise PolicyError(f"a policy must be a table of keys, got {type(d).__name__}")
    _check_keys("", d, [*_TOP_KEYS, "model", *_SECTIONS, "options"])
    kw: dict[str, Any] = {k: d[k] for k in _TOP_KEYS if k in d}
    # the top-level values reach the model's specification below: check them under their own names first
    if "confidence" in kw:
        _num("confidence", kw["confidence"], 0.9, 0.9999)
    if "horizon_hours" in kw:
        _num("horizon_hours", kw["horizon_hours"], 0.0, 720.0, lo_open=True)
    if "model" in d:
        model = d["model"]
        if not isinstance(model, Mapping):
            raise PolicyError(f"model must be a table, got {model!r}")
        for k in _MODEL_AT_TOP:
            if k in model:
                raise PolicyError(f"model.{k} is not allowed: set {k} at the top level of the policy")
        allowed = [f.name for f in fields(FitSpec) if f.name not in _MODEL_AT_TOP]
        _check_keys("model", model, allowed)
        m = dict(model)
        if "candidates" in m and (isinstance(m["candidates"], str) or not isinstance(m["candidates"], Sequence)):
            raise PolicyError(f"model.candidates must be a list of 'garch', 'gjr', 'egarch', got {m['candidates']!r}")
        for name in ("horizon_hours", "confidence"):
            if name in kw:
                m[name] = kw[name]
        try:
            kw["model"] = FitSpec.from_dict(m)
        except PolicyError:
            raise
        except (ValueError, TypeError) as exc:
            raise PolicyError(f"model.{exc}") from None
    for name, cls in _SECTIONS.items():
        if name not in d:
            continue
        sec = d[name]
        if not isinstance(sec, Mapping):
            raise PolicyError(f"{name} must be a table, got {sec!r}")
        _check_keys(name, sec, [f.name for f in fields(cls)])
        kw[name] = cls(**sec)
    if "options" in d:
        kw["options"] = d["options"]
    return RiskPolicy(**kw)


# ---------------------------------------------------------------------------------------------
# options: named variants of a policy, side by side in one proposal
# ---------------------------------------------------------------------------------------------

_OPTION_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = list(value) if isinstance(value, tuple) else value


def _validate_options(given: Any) -> Mapping[str, Any]:
    """``options`` table: ``recommended`` (a name) and ``NAME = {dotted key: value}`` tables, each a valid
    change of a policy (checked by applying it to the default policy)."""
    if not isinstance(given, Mapping):
        raise PolicyError(f"options must be a table, got {given!r}")
    rec = given.get("recommended", "moderate")
    if not isinstance(rec, str) or not _OPTION_NAME.match(rec):
        raise PolicyError(f"options.recommended must be a lower-case name of at most 32 letters, digits, _ or -, "
                          f"got {rec!r}")
    out: dict[str, Any] = {"recommended": rec}
    for name, table in given.items():
        if name == "recommended":
            continue
        if not isinstance(name, str) or not _OPTION_NAME.match(name):
            raise PolicyError(f"options.{name}: an option name is at most 32 lower-case letters, digits, _ or -")
        if not isinstance(table, Mapping):
            raise PolicyError(f"options.{name} must be a table of policy keys, got {table!r}")
        flat: dict[str, Any] = {}
        _flatten("", table, flat)
        if name == rec and flat:
            raise PolicyError(f"options.{name} is the recommended option, i.e. this policy itself: change the "
                              "policy's own keys instead of overriding them")
        for key in flat:
            if key.split(".")[0] == "options":
                raise PolicyError(f"options.{name}.{key}: an option cannot define options")
        try:
            policy_with(RiskPolicy(), flat)
        except PolicyError as exc:
            raise PolicyError(f"options.{name}: {exc}") from None
        out[name] = MappingProxyType(flat)
    return MappingProxyType(out)


def builtin_options(base: RiskPolicy) -> dict[str, dict[str, Any]]:
    """The three built-in options, as changes relative to ``base`` (which is ``moderate``):

    * ``conservative``: confidence at least 99.5 %, the largest of the model-risk band (``max``), the
      liquidation delay doubled and the participation rate halved (slower close-out);
    * ``moderate``: ``base`` itself;
    * ``aggressive``: VaR instead of ES at the same confidence and the liquidation delay halved.

    Each change only tightens (conservative) or loosens (aggressive) the covered move, so tier-1 MMF
    is non-increasing from conservative to aggressive.
    """
    m = base.mpor
    return {
        "conservative": {"confidence": max(base.confidence, 0.995), "model_risk.combine": Combine.MAX.value,
                         "mpor.liquidation_delay_minutes": min(1440.0, 2.0 * m.liquidation_delay_minutes),
                         "mpor.participation_rate": m.participation_rate / 2.0},
        "moderate": {},
        "aggressive": {"measure": Measure.VAR.value,
                       "mpor.liquidation_delay_minutes": m.liquidation_delay_minutes / 2.0},
    }


def policy_with(base: RiskPolicy, changes: Mapping[str, Any]) -> RiskPolicy:
    """``base`` with some values changed, validated like a policy file.

    Parameters
    ----------
    changes : mapping
        Dotted keys (``'apc.buffer_enabled'``, ``'confidence'``, ``'model.dist'``) to new values.

    Raises
    ------
    PolicyError
        An unknown key or a value out of range (the message names the key and the allowed range).
    """
    d = base.to_dict()
    for dotted, value in changes.items():
        node = d
        *parents, leaf = str(dotted).split(".")
        for p in parents:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                raise PolicyError(f"unknown key {dotted}")
            node = nxt
        if leaf not in node and parents[:1] != ["options"]:
            where = ".".join(parents)
            allowed = ", ".join(k for k in node if not isinstance(node[k], dict))
            raise PolicyError(f"unknown key {dotted} (allowed{' in ' + where if where else ''}: {allowed})")
        node[leaf] = value
    return policy_from_dict(d)


def policy_differences(base: RiskPolicy, other: RiskPolicy) -> dict[str, Any]:
    """Dotted keys whose values differ between two policies, with ``other``'s values (options left out)."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    da, db = base.to_dict(), other.to_dict()
    da.pop("options", None)
    db.pop("options", None)
    _flatten("", da, a)
    _flatten("", db, b)
    return {k: v for k, v in b.items() if a.get(k) != v}


def load_policy(path: str | Path) -> RiskPolicy:
    """Read and validate a policy TOML file.

    Raises
    ------
    PolicyError
        One line: ``"<file>: <dotted key> must be in <range>, got <value>"`` (or the file is
        missing, or is not valid TOML).

    Examples
    --------
    >>> import riskparams, tempfile
    >>> from riskparams.config import example_policy_path
    >>> riskparams.load_policy(example_policy_path()) == riskparams.RiskPolicy()  # the defaults, documented
    True
    >>> path = f"{tempfile.mkdtemp()}/policy.toml"
    >>> with open(path, "w") as f:
    ...     print("confidence = 0.5", file=f)
    >>> riskparams.load_policy(path)
    Traceback (most recent call last):
    ...
    riskparams.exceptions.PolicyError: policy.toml: confidence must be in [0.9, 0.9999], got 0.5
    """
    p = Path(path)
    try:
        text = p.read_bytes()
    except FileNotFoundError:
        raise PolicyError(f"policy file {p} not found") from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {p}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise PolicyError(f"{p.name}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{p.name}: not valid TOML ({exc})") from None
    try:
        return policy_from_dict(data)
    except PolicyError as exc:
        raise PolicyError(f"{p.name}: {exc}") from None


def example_policy_path() -> Path:
    """Path of the documented example policy shipped with the package (``examples/policy.toml``)."""
    return Path(str(resources.files("riskparams") / "examples" / "policy.toml"))
