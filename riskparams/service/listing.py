"""Typed readers of what the store holds: proposals, backtest reports and sweeps, one or a listing.

A listing row is a frozen value with typed fields (ids as ``str``, times as aware UTC ``datetime``, profiles as
:class:`~riskparams.domain.Profile`, symbols as a tuple); ``to_dict()`` gives the JSON the store's listing
functions give (times ISO-8601 with ``Z``), key for key and value for value, for the JSON boundary.

Part of :mod:`riskparams.service` (moved from ``service.py``, issue 15).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from riskparams.domain import Profile
from riskparams.exceptions import DataError
from riskparams.jsonio import iso_z, parse_time
from riskparams.store import Store
from riskparams.store.backtest_records import StoredReport, get_report, list_reports
from riskparams.store.records import StoredProposal, get_proposal, list_proposals

__all__ = [
    "BacktestRow",
    "ProposalRow",
    "SweepRow",
    "get_backtest",
    "get_sweep",
    "list_backtests",
    "list_sweeps",
    "proposal",
    "proposals",
]


# -------------------------------------------------------------------------------------------------
# reading a store row (what the store's listing functions return) into typed fields
# -------------------------------------------------------------------------------------------------


def _field(row: Mapping[str, Any], what: str, key: str) -> Any:
    if key not in row:
        raise DataError(f"a stored {what} row has no {key!r} (keys: {', '.join(map(str, row)) or 'none'}).")
    return row[key]


def _time(row: Mapping[str, Any], what: str, key: str, *, optional: bool = False) -> datetime | None:
    value = _field(row, what, key)
    if value is None and optional:
        return None
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        raise DataError(f"a stored {what} row has {key} {str(value)[:40]!r}, not an ISO-8601 time.") from None


def _int(row: Mapping[str, Any], what: str, key: str) -> int:
    value = _field(row, what, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"a stored {what} row has {key} {str(value)[:40]!r}, not a count >= 0.")
    return value


def _str(row: Mapping[str, Any], what: str, key: str) -> str | None:
    value = _field(row, what, key)
    return None if value is None else str(value)


def _id(row: Mapping[str, Any], what: str) -> str:
    value = _field(row, what, "id")
    if not isinstance(value, str) or not value:
        raise DataError(f"a stored {what} row has id {str(value)[:40]!r}, not a content hash.")
    return value


def _profile(row: Mapping[str, Any], what: str) -> Profile:
    value = _field(row, what, "profile")
    try:
        return Profile(value)
    except ValueError:
        raise DataError(f"a stored {what} row has profile {str(value)[:40]!r}, not perp or lending.") from None


def _symbols(row: Mapping[str, Any], what: str) -> tuple[str, ...]:
    value = _field(row, what, "symbols")
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise DataError(f"a stored {what} row has symbols {str(value)[:40]!r}, not a list.")
    return tuple(str(s) for s in value)


def _check_time(what: str, name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise DataError(f"{what}.{name} must be an aware UTC datetime, got {value!r}.")


def _check_count(what: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{what}.{name} must be a count >= 0, got {value!r}.")


def _check_head(what: str, id_: object, profile: object) -> None:
    if not isinstance(id_, str) or not id_:
        raise DataError(f"{what}.id must be a content hash (a non-empty str), got {id_!r}.")
    if not isinstance(profile, Profile):
        raise DataError(f"{what}.profile must be a Profile, got {profile!r}.")


# -------------------------------------------------------------------------------------------------
# the rows
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposalRow:
    """One stored proposal in a listing (:func:`proposals`).

    Attributes
    ----------
    id : str
        Content hash (SHA-256, hex).
    profile : Profile
    as_of : datetime or None
        The proposal's data cut-off (aware, UTC).
    created_at : datetime
        When it was stored (aware, UTC).
    status : str or None
        Its current workflow status (``draft``, ``approved``, ...).
    n_assets, n_skipped : int
        Assets proposed and assets skipped.
    policy_key, riskparams_version : str or None
    """

    id: str
    profile: Profile
    as_of: datetime | None
    created_at: datetime
    status: str | None
    n_assets: int
    n_skipped: int
    policy_key: str | None
    riskparams_version: str | None

    def __post_init__(self) -> None:
        _check_head("ProposalRow", self.id, self.profile)
        _check_time("ProposalRow", "as_of", self.as_of, optional=True)
        _check_time("ProposalRow", "created_at", self.created_at)
        _check_count("ProposalRow", "n_assets", self.n_assets)
        _check_count("ProposalRow", "n_skipped", self.n_skipped)

    @property
    def created_at_iso(self) -> str:
        """``created_at`` as ISO-8601 UTC with ``Z``."""
        return iso_z(self.created_at)

    def to_dict(self) -> dict[str, Any]:
        """The row as :func:`riskparams.store.records.list_proposals` gives it (times ISO-8601 with ``Z``)."""
        return {"id": self.id, "profile": self.profile.value,
                "as_of": None if self.as_of is None else iso_z(self.as_of), "created_at": iso_z(self.created_at),
                "status": self.status, "n_assets": self.n_assets, "n_skipped": self.n_skipped,
                "policy_key": self.policy_key, "riskparams_version": self.riskparams_version}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> ProposalRow:
        """Read a row of :func:`riskparams.store.records.list_proposals`.

        Raises
        ------
        DataError
            A missing key or a value of the wrong kind (the message names it).
        """
        w = "proposal"
        created = _time(row, w, "created_at")
        assert created is not None
        return cls(id=_id(row, w), profile=_profile(row, w), as_of=_time(row, w, "as_of", optional=True),
                   created_at=created, status=_str(row, w, "status"), n_assets=_int(row, w, "n_assets"),
                   n_skipped=_int(row, w, "n_skipped"), policy_key=_str(row, w, "policy_key"),
                   riskparams_version=_str(row, w, "riskparams_version"))


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestRow:
    """One stored backtest report in a listing (:func:`list_backtests`).

    Attributes
    ----------
    id : str
        Content hash (SHA-256, hex).
    profile : Profile
    created_at, start, end : datetime
        When it was stored; first and last bar of its period (aware, UTC).
    symbols : tuple of str
    policy_key, riskparams_version : str or None
    attachments : int
        Proposals it is attached to.
    """

    id: str
    profile: Profile
    created_at: datetime
    start: datetime
    end: datetime
    symbols: tuple[str, ...]
    policy_key: str | None
    riskparams_version: str | None
    attachments: int

    def __post_init__(self) -> None:
        _check_head("BacktestRow", self.id, self.profile)
        for name in ("created_at", "start", "end"):
            _check_time("BacktestRow", name, getattr(self, name))
        _check_count("BacktestRow", "attachments", self.attachments)

    @property
    def created_at_iso(self) -> str:
        """``created_at`` as ISO-8601 UTC with ``Z``."""
        return iso_z(self.created_at)

    def to_dict(self) -> dict[str, Any]:
        """The row as :func:`riskparams.store.backtest_records.list_reports` gives it."""
        return {"id": self.id, "profile": self.profile.value, "created_at": iso_z(self.created_at),
                "start": iso_z(self.start), "end": iso_z(self.end), "symbols": list(self.symbols),
                "policy_key": self.policy_key, "riskparams_version": self.riskparams_version,
                "attachments": self.attachments}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> BacktestRow:
        """Read a row of :func:`riskparams.store.backtest_records.list_reports`.

        Raises
        ------
        DataError
            A missing key or a value of the wrong kind (the message names it).
        """
        w = "backtest report"
        created, start, end = (_time(row, w, k) for k in ("created_at", "start", "end"))
        assert created is not None and start is not None and end is not None
        return cls(id=_id(row, w), profile=_profile(row, w), created_at=created, start=start, end=end,
                   symbols=_symbols(row, w), policy_key=_str(row, w, "policy_key"),
                   riskparams_version=_str(row, w, "riskparams_version"), attachments=_int(row, w, "attachments"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRow:
    """One stored policy sweep in a listing (:func:`list_sweeps`).

    Attributes
    ----------
    id : str
        Content hash (SHA-256, hex).
    profile : Profile
    created_at : datetime
        When it was stored (aware, UTC).
    symbols : tuple of str
    variants : int
        Policy variants swept.
    attachments : int
        Proposals it is attached to.
    """

    id: str
    profile: Profile
    created_at: datetime
    symbols: tuple[str, ...]
    variants: int
    attachments: int

    def __post_init__(self) -> None:
        _check_head("SweepRow", self.id, self.profile)
        _check_time("SweepRow", "created_at", self.created_at)
        _check_count("SweepRow", "variants", self.variants)
        _check_count("SweepRow", "attachments", self.attachments)

    @property
    def created_at_iso(self) -> str:
        """``created_at`` as ISO-8601 UTC with ``Z``."""
        return iso_z(self.created_at)

    def to_dict(self) -> dict[str, Any]:
        """The row as :func:`riskparams.store.sweep_records.list_sweeps` gives it."""
        return {"id": self.id, "profile": self.profile.value, "created_at": iso_z(self.created_at),
                "symbols": list(self.symbols), "variants": self.variants, "attachments": self.attachments}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> SweepRow:
        """Read a row of :func:`riskparams.store.sweep_records.list_sweeps`.

        Raises
        ------
        DataError
            A missing key or a value of the wrong kind (the message names it).
        """
        w = "sweep"
        created = _time(row, w, "created_at")
        assert created is not None
        return cls(id=_id(row, w), profile=_profile(row, w), created_at=created, symbols=_symbols(row, w),
                   variants=_int(row, w, "variants"), attachments=_int(row, w, "attachments"))


# -------------------------------------------------------------------------------------------------
# the readers
# -------------------------------------------------------------------------------------------------


def proposal(store: Store, proposal_id: str) -> StoredProposal:
    """A stored proposal by id or unique prefix, hash verified, with its current status (for the pages:
    :func:`riskparams.store.records.get_proposal`)."""
    return get_proposal(store, proposal_id)


def proposals(store: Store, *, limit: int = 50) -> list[ProposalRow]:
    """Stored proposals, newest first, typed (:func:`riskparams.store.records.list_proposals`;
    ``[r.to_dict() for r in proposals(store)]`` is its JSON)."""
    return [ProposalRow.from_dict(r) for r in list_proposals(store, limit=limit)]


def get_backtest(store: Store, report_id: str) -> StoredReport:
    """A stored backtest report by id or unique prefix (hash verified)."""
    return get_report(store, report_id)


def list_backtests(store: Store, *, profile: str | None = None, limit: int = 100) -> list[BacktestRow]:
    """Stored backtest reports, newest first, typed (see :func:`riskparams.store.backtest_records.list_reports`;
    ``to_dict()`` of each row is its JSON)."""
    return [BacktestRow.from_dict(r) for r in list_reports(store, profile=profile, limit=limit)]


def get_sweep(store: Store, sweep_id: str) -> Any:
    """A stored sweep by id or unique prefix, hash verified (:class:`riskparams.store.sweep_records.StoredSweep`)."""
    from riskparams.store.sweep_records import get_sweep as _get

    return _get(store, sweep_id)


def list_sweeps(store: Store, *, limit: int = 100) -> list[SweepRow]:
    """Stored sweeps, newest first, typed: ``id, profile, created_at, symbols, variants, attachments``
    (``to_dict()`` of each row gives them as :func:`riskparams.store.sweep_records.list_sweeps` does)."""
    from riskparams.store.sweep_records import list_sweeps as _list

    return [SweepRow.from_dict(r) for r in _list(store, limit=limit)]
