"""Sweep records: immutable, content-addressed policy sweeps and their attachments to proposals.

The only place with SQL for sweeps; every statement is parameterised (``?``), writes run in one
:meth:`Store.transaction`. Like backtest reports: a sweep's id is the SHA-256 of the canonical JSON of its
content (:meth:`riskparams.backtest.sweep.SweepReport.content`); storing the same content again returns the
first record; nothing updates or deletes (SELECT and INSERT only); :func:`get_sweep` re-checks the hash.

Tables (the schema migration after impact reports and plans)
-------------------------------------------------------------
``sweep_reports``
    ``sweep_id``, ``profile``, ``created_at`` (naive UTC), ``symbols`` (comma-separated), ``variants``
    (count), ``payload`` (canonical JSON content).
``sweep_attachments``
    ``proposal_id``, ``sweep_id``, ``attached_at`` (naive UTC), ``actor``.

Typed reader (issue 15 item 2)
------------------------------
:class:`StoredSweepReport` reads a stored sweep's content back typed and read-only: its variants are the
:class:`riskparams.backtest.sweep.SweepVariant` rows the live :class:`~riskparams.backtest.sweep.SweepReport`
holds, its grid a :class:`~riskparams.backtest.sweep.SweepGrid`; the spec, base policy, data fingerprints and
provenance stay read-only mappings exactly as stored. ``content -> StoredSweepReport -> content`` gives the same
canonical JSON and the same id; content of another format, of another shape or with a non-finite number, a
variant that does not match its grid, or a symbol that is not a symbol is refused in one sentence
(:class:`~riskparams.exceptions.DataError`, a ``ValueError``). :attr:`StoredSweep.report` is the accessor.
The grid, the variant rows and the content layout live in :mod:`riskparams.sweep_content` (shared with the live
report, and light: reading a sweep loads neither numba nor scipy).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from riskparams.content import _ShapeError as _Shape
from riskparams.content import check_finite as _check_finite
from riskparams.content import freeze as _freeze
from riskparams.content import thaw as _thaw
from riskparams.domain import SYMBOL_PATTERN, check_format
from riskparams.exceptions import DataError, ReportNotFoundError, RiskParamsError, SpecError
from riskparams.jsonio import canonical_json, content_id
from riskparams.store import governance_records as gr
from riskparams.store.core import Store, iso_z, now_utc
from riskparams.store.records import existing_matches, get_proposal, load_verified, resolve_prefix
from riskparams.sweep_content import SWEEP_FORMAT, SweepGrid, SweepVariant, frontier_of, sweep_content

if TYPE_CHECKING:  # the backtest package (numba, scipy.stats) loads on first read, not on import
    from riskparams.backtest import BacktestSpec
    from riskparams.config import RiskPolicy

INSERT_SWEEP = """INSERT INTO sweep_reports (sweep_id, profile, created_at, symbols, variants, payload)
    VALUES (?, ?, ?, ?, ?, ?)"""
SELECT_PAYLOAD = "SELECT payload FROM sweep_reports WHERE sweep_id = ?"
SELECT_SWEEP = "SELECT profile, created_at, payload FROM sweep_reports WHERE sweep_id = ?"
SELECT_PREFIX = "SELECT sweep_id FROM sweep_reports WHERE starts_with(sweep_id, ?) ORDER BY sweep_id LIMIT 2"
SELECT_LIST = """SELECT s.sweep_id, s.profile, s.created_at, s.symbols, s.variants,
    (SELECT count(*) FROM sweep_attachments a WHERE a.sweep_id = s.sweep_id) FROM sweep_reports s"""
INSERT_ATTACHMENT = "INSERT INTO sweep_attachments (proposal_id, sweep_id, attached_at, actor) VALUES (?, ?, ?, ?)"
SELECT_ATTACHMENT = "SELECT attached_at FROM sweep_attachments WHERE proposal_id = ? AND sweep_id = ?"
SELECT_ATTACHED = """SELECT sweep_id FROM sweep_attachments WHERE proposal_id = ?
    ORDER BY attached_at DESC, sweep_id LIMIT 1"""

STATEMENTS: tuple[str, ...] = (INSERT_SWEEP, SELECT_PAYLOAD, SELECT_SWEEP, SELECT_PREFIX, SELECT_LIST,
                               INSERT_ATTACHMENT, SELECT_ATTACHMENT, SELECT_ATTACHED)
"""Every SQL statement of this module (SELECT and INSERT only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSweep:
    """A sweep as stored: ``id`` (SHA-256 of the content), ``profile``, ``created_at`` (naive UTC, not
    content), ``content`` (JSON-safe dict) and ``is_new`` (this call stored it)."""

    id: str
    profile: str
    created_at: datetime
    content: dict[str, Any]
    is_new: bool = False

    @property
    def created_at_iso(self) -> str:
        """``created_at`` as ISO-8601 with ``Z``."""
        return str(iso_z(self.created_at))

    @property
    def report(self) -> StoredSweepReport:
        """The content, typed and read-only (:meth:`StoredSweepReport.from_content`; it rebuilds to this id).

        Raises
        ------
        DataError
            The content is of another format or shape (the message names what).
        """
        got = StoredSweepReport.from_content(self.content)
        if got.id != self.id:  # the hash was verified on read: the content itself differs from its rebuild
            raise DataError(f"stored sweep {self.id[:12]} does not rebuild to its id; it was written by another "
                            "version of riskparams.")
        return got


# ------------------------------------------------------------------------------------------ the typed reader

SWEEP_KEYS = ("format", "profile", "spec", "base_policy", "grid", "symbols", "data", "fits", "n_variants", "variants",
              "frontier", "skipped", "provenance")
"""Keys of a stored sweep's content (:meth:`riskparams.backtest.sweep.SweepReport.content`)."""
VARIANT_KEYS = ("variant", "changes", "policy_key", "assets", "n", "exceptions", "expected", "kupiec_p", "avg_margin",
                "bad_debt", "liquidations", "changes_per_year", "on_frontier")
"""Keys of every stored variant (``var_insolvent_debt`` besides, when the sweep had positions)."""


def _field(d: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, *, optional: bool = False) -> Any:
    """``d[key]`` checked against ``kind`` (a bool is never an int or a float here; ``optional``: None allowed)."""
    if key not in d:
        raise _Shape(f"{where} has no {key!r}")
    v = d[key]
    if v is None and optional:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(v, bool) and bool not in kinds) or not isinstance(v, kinds):
        raise _Shape(f"{where}'s {key!r} is {str(v)[:40]!r}")
    if isinstance(v, float) and not math.isfinite(v):
        raise _Shape(f"{where}'s {key!r} is {v}")
    if isinstance(v, int) and not isinstance(v, bool) and int in kinds and v < 0:
        raise _Shape(f"{where}'s {key!r} is {v}")
    return v


_NUM = (int, float)
_SCALAR = (str, int, float, bool)


def _variant(d: Any, i: int, grid_changes: list[dict[str, Any]]) -> SweepVariant:
    """Variant ``i`` from its stored dictionary (values kept as stored: the round trip is exact)."""
    where = f"variant {i}"
    if not isinstance(d, Mapping):
        raise _Shape(f"{where} is not an object")
    unknown = sorted(set(d) - {*VARIANT_KEYS, "var_insolvent_debt"})
    if unknown:
        raise _Shape(f"{where} has an unknown key {unknown[0][:40]!r}")
    index = _field(d, "variant", int, where)
    changes = _field(d, "changes", Mapping, where)
    if index != i or i >= len(grid_changes) or canonical_json(dict(changes)) != canonical_json(grid_changes[i]):
        raise _Shape(f"{where} does not match the grid")  # (key order as stored: canonical JSON sorts keys)

    def num(key: str) -> float | None:  # None stays None; every other value is a finite number
        return _field(d, key, _NUM, where, optional=True)  # type: ignore[no-any-return]

    expected = num("expected")
    book: float | None = None
    if "var_insolvent_debt" in d:  # written only with positions; a stored null was a non-finite value (NaN)
        book = num("var_insolvent_debt")
        book = math.nan if book is None else book
    return SweepVariant(
        index=index, changes=MappingProxyType(dict(changes)), policy_key=_field(d, "policy_key", str, where),
        assets=_field(d, "assets", int, where), n=_field(d, "n", int, where),
        exceptions=_field(d, "exceptions", int, where), expected=math.nan if expected is None else expected,
        kupiec_p=num("kupiec_p"), avg_margin=num("avg_margin"), bad_debt=num("bad_debt"),
        liquidations=_field(d, "liquidations", int, where), changes_per_year=num("changes_per_year"),
        on_frontier=_field(d, "on_frontier", bool, where), var_insolvent_debt=book)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSweepReport:
    """A policy sweep as the store holds it, typed and read-only (see the module docstring).

    Attributes
    ----------
    format : str
        :data:`riskparams.backtest.sweep.SWEEP_FORMAT`.
    profile : str
        ``'perp'`` or ``'lending'``.
    spec, base_policy : Mapping
        The :class:`~riskparams.backtest.BacktestSpec` and the base policy (with ``policy_key``) as stored; typed:
        :attr:`backtest_spec` and :attr:`base`.
    grid : SweepGrid
        The policy keys swept and their values (the variants are its product, last key fastest).
    symbols : tuple of str
        The assets swept (sorted).
    data : Mapping[str, str]
        Symbol -> SHA-256 fingerprint of the rows used.
    fits : int
        Walk-forwards the sweep needs (shared by the variants of a model).
    variants : tuple of SweepVariant
        One per grid point, in grid order, all assets pooled: ``avg_margin`` (fraction), ``exceptions``,
        ``expected``, ``kupiec_p``, ``bad_debt`` (quote currency), ``liquidations``, ``changes_per_year``,
        ``on_frontier`` and, with positions, ``var_insolvent_debt`` (quote currency).
    skipped : tuple of (variant, symbol, reason)
        Assets a variant could not backtest (``-1``: not swept at all).
    provenance : Mapping
        ``packages`` (name -> version).

    Examples
    --------
    >>> import riskparams
    >>> from riskparams.ingest.demo import example_store
    >>> from riskparams.service import attach_sweep, attached_sweep, get_sweep
    >>> store = example_store()  # in memory: 800 daily bars of a synthetic "ABC"
    >>> spec = riskparams.BacktestSpec(start="2020-06-01", cadence_days=30, window=250, es_sims=0)
    >>> run = riskparams.sweep(store, profile="perp", grid=["confidence=0.99,0.995"], spec=spec)
    >>> report = get_sweep(store, run.id).report  # typed reader of what the store holds
    >>> report.id == run.id, report.fits, [dict(v.changes) for v in report.variants]
    (True, 2, [{'confidence': 0.99}, {'confidence': 0.995}])
    >>> report.content() == run.report.content()
    True
    >>> StoredSweepReport.from_content({**run.report.content(), "format": "riskparams-sweep/2"})
    Traceback (most recent call last):
    ...
    riskparams.exceptions.DataError: this is not a stored sweep: its format is 'riskparams-sweep/2', this riskparams reads 'riskparams-sweep/1'.
    """

    format: str
    profile: str
    spec: Mapping[str, Any]
    base_policy: Mapping[str, Any]
    grid: SweepGrid
    symbols: tuple[str, ...]
    data: Mapping[str, str]
    fits: int
    variants: tuple[SweepVariant, ...]
    skipped: tuple[tuple[int, str, str], ...] = ()
    provenance: Mapping[str, Any]

    @property
    def n_variants(self) -> int:
        """Number of variants (the grid's size)."""
        return len(self.variants)

    @property
    def frontier(self) -> list[SweepVariant]:
        """Variants on the frontier, by increasing average margin (as the live report orders them)."""
        return frontier_of(self.variants)

    @property
    def has_positions(self) -> bool:
        """The sweep simulated a book of positions (its variants carry ``var_insolvent_debt``)."""
        return any(v.var_insolvent_debt is not None for v in self.variants)

    def variant(self, index: int) -> SweepVariant:
        """Variant ``index``.

        Raises
        ------
        SpecError
            No such variant (the message names the range).
        """
        for v in self.variants:
            if v.index == int(index):
                return v
        raise SpecError(f"the sweep has no variant {index} (variants 0 to {len(self.variants) - 1}).",
                        field="variant", value=index)

    @property
    def backtest_spec(self) -> BacktestSpec:
        """``spec`` as a :class:`~riskparams.backtest.BacktestSpec` (:func:`riskparams.backtest_content.spec_from_dict`)."""
        from riskparams.backtest_content import spec_from_dict

        return spec_from_dict(self.spec)

    @property
    def base(self) -> RiskPolicy:
        """The base policy as a :class:`~riskparams.config.RiskPolicy` (its key equals the stored ``policy_key``).

        Raises
        ------
        DataError
            The stored policy is not a valid policy, or rebuilds to another key.
        """
        from riskparams.config import policy_from_stored

        return policy_from_stored(_thaw(self.base_policy), "the stored sweep's base policy")

    def variant_policy(self, index: int) -> dict[str, Any]:
        """Variant ``index``'s ``policy_key``, ``differences`` from the base policy and full ``policy`` dictionary
        (:func:`riskparams.backtest.sweep.variant_policy`)."""
        from riskparams.backtest.sweep import variant_policy

        return variant_policy(self.base, self.variant(index).changes)

    def content(self) -> dict[str, Any]:
        """The content as stored (JSON-safe): ``from_content(c).content() == c``."""
        return sweep_content(
            profile=self.profile, spec=_thaw(self.spec), base_policy=_thaw(self.base_policy), grid=self.grid,
            symbols=self.symbols, data=self.data, fits=self.fits, variants=self.variants, skipped=self.skipped,
            provenance=_thaw(self.provenance))

    @property
    def id(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`content` (the stored sweep's id)."""
        return content_id(self.content())

    def to_dict(self) -> dict[str, Any]:
        """``{"id": ..., **content}``."""
        return {"id": self.id, **self.content()}

    @classmethod
    def from_content(cls, content: Mapping[str, Any]) -> StoredSweepReport:
        """Read a stored sweep's content (:meth:`riskparams.backtest.sweep.SweepReport.content`); the round trip is
        exact (checked: the typed report rebuilds content with the same hash).

        Raises
        ------
        DataError
            Another format (the message names it), content without this riskparams' shape (a missing or unknown
            key, a value of the wrong type, a non-finite number, a variant that does not match the grid, a
            symbol that is not a symbol), or content that does not rebuild to the same hash.
        """
        try:
            check_format(content, SWEEP_FORMAT, "sweep")
        except ValueError as exc:
            raise DataError(str(exc)) from None
        try:
            _check_finite(content, "the sweep")
            unknown = sorted(set(content) - set(SWEEP_KEYS))
            if unknown:
                raise _Shape(f"an unknown key {str(unknown[0])[:40]!r}")
            profile = _field(content, "profile", str, "the sweep")
            if profile not in ("perp", "lending"):
                raise _Shape(f"the profile is {profile[:40]!r}")
            raw_grid = _field(content, "grid", list, "the sweep")
            for ax in raw_grid:
                if not (isinstance(ax, list) and len(ax) == 2 and isinstance(ax[1], list)
                        and all(v is None or isinstance(v, _SCALAR) for v in ax[1])):
                    raise _Shape(f"the grid axis {str(ax)[:40]!r} is not [key, [values]]")
                _check_finite(ax[1], f"grid {str(ax[0])[:40]}")
            try:
                grid = SweepGrid(axes=tuple((ax[0], tuple(ax[1])) for ax in raw_grid))
            except ValueError as exc:
                raise _Shape(f"the grid is not valid: {str(exc).rstrip('.')}") from None
            symbols = _field(content, "symbols", list, "the sweep")
            data = _field(content, "data", Mapping, "the sweep")
            for s in symbols:
                if not (isinstance(s, str) and SYMBOL_PATTERN.match(s)):
                    raise _Shape(f"symbol {str(s)[:40]!r} is not a symbol")
            if list(data) != symbols or not all(isinstance(f, str) for f in data.values()):
                raise _Shape("the data fingerprints do not match the symbols")
            changes = grid.changes()
            raw_variants = _field(content, "variants", list, "the sweep")
            if len(raw_variants) != len(changes):
                raise _Shape(f"it has {len(raw_variants)} variants, its grid spans {len(changes)}")
            variants = tuple(_variant(v, i, changes) for i, v in enumerate(raw_variants))
            skipped = []
            for x in _field(content, "skipped", list, "the sweep"):
                if not isinstance(x, Mapping) or set(x) != {"variant", "symbol", "reason"}:
                    raise _Shape(f"a skipped entry is {str(x)[:40]!r}")
                skipped.append((_field(x, "variant", int, "a skipped entry") if x["variant"] != -1 else -1,
                                _field(x, "symbol", str, "a skipped entry"), _field(x, "reason", str, "a skipped entry")))
            for key in ("spec", "base_policy", "provenance"):
                _field(content, key, Mapping, "the sweep")
            _field(content, "fits", int, "the sweep")
            _field(content, "n_variants", int, "the sweep")
            _field(content, "frontier", list, "the sweep")
            report = cls(format=SWEEP_FORMAT, profile=profile, spec=_freeze(dict(content["spec"])),
                         base_policy=_freeze(dict(content["base_policy"])), grid=grid, symbols=tuple(symbols),
                         data=_freeze(dict(data)), fits=content["fits"], variants=variants, skipped=tuple(skipped),
                         provenance=_freeze(dict(content["provenance"])))
            same = content_id(report.content()) == content_id(content)
        except (_Shape, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"the stored sweep content is not one this riskparams reads ({exc}).") from None
        if not same:
            raise DataError("the stored sweep content does not rebuild to the same hash (its n_variants or frontier "
                            "disagrees with its variants, or a number was written differently); it was written by "
                            "another version of riskparams.")
        return report


def save_sweep(store: Store, content: Mapping[str, Any]) -> StoredSweep:
    """Store a sweep's content (one transaction) unless the same content is already stored."""
    data = dict(content)
    text = canonical_json(data)
    sid = content_id(data)
    with store.transaction() as cur:
        if existing_matches(cur, SELECT_PAYLOAD, sid, text, "sweep"):
            is_new = False
        else:
            cur.execute(INSERT_SWEEP, [sid, str(data["profile"]), now_utc(), ",".join(map(str, data.get("symbols", []))),
                                       len(data.get("variants", [])), text])
            is_new = True
    got = get_sweep(store, sid)
    return StoredSweep(id=got.id, profile=got.profile, created_at=got.created_at, content=got.content, is_new=is_new)


def get_sweep(store: Store, sweep_id: str) -> StoredSweep:
    """A stored sweep by id or unique prefix (>= 6 hex characters), its hash verified.

    Raises
    ------
    ReportNotFoundError
        No (or more than one) stored sweep matches.
    StoreError
        The stored content no longer hashes to its id.
    """
    sid = resolve_prefix(store, sweep_id, select=SELECT_PREFIX, what="sweep", error=ReportNotFoundError)
    row = store.fetchone(SELECT_SWEEP, [sid])
    assert row is not None
    return StoredSweep(id=sid, profile=str(row[0]), created_at=row[1], content=load_verified(str(row[2]), sid, "sweep"))


def list_sweeps(store: Store, *, limit: int = 100) -> list[dict[str, Any]]:
    """Newest sweeps first: ``id, profile, created_at, symbols, variants, attachments``."""
    rows = store.fetchall(SELECT_LIST + " ORDER BY s.created_at DESC, s.sweep_id LIMIT ?", [int(limit)])
    return [{"id": r[0], "profile": r[1], "created_at": iso_z(r[2]), "symbols": [s for s in str(r[3]).split(",") if s],
             "variants": int(r[4]), "attachments": int(r[5])} for r in rows]


def attach_sweep(store: Store, proposal_id: str, sweep_id: str, *, actor: str | None = None) -> bool:
    """Attach a stored sweep to a stored proposal of the same profile (append-only, audited); True when new."""
    proposal = get_proposal(store, proposal_id)
    sweep = get_sweep(store, sweep_id)
    if sweep.profile != proposal.profile:
        raise RiskParamsError(f"sweep {sweep.id[:12]} is for {sweep.profile}, proposal {proposal.id[:12]} is for "
                              f"{proposal.profile}.")
    with store.transaction() as cur:
        return gr.link_record(cur, proposal_id=proposal.id, record_id=sweep.id, actor=actor,
                              select_link=SELECT_ATTACHMENT, insert_link=INSERT_ATTACHMENT, action="sweep_attached",
                              detail_key="sweep")


def latest_attached_sweep(store: Store, proposal_id: str) -> StoredSweep | None:
    """The sweep attached last to a proposal, or None."""
    pid = get_proposal(store, proposal_id).id
    row = store.fetchone(SELECT_ATTACHED, [pid])
    return None if row is None else get_sweep(store, str(row[0]))
