"""Versioned schema of the riskparams store and its migrations.

Each migration is a list of SQL statements that moves the store from version ``n - 1`` to ``n``.
Migrations only ever append: a store written by an older riskparams opens and is upgraded in one
transaction; a store written by a newer riskparams is refused (see :class:`~riskparams.StoreError`).

Conventions
-----------
* Timestamps are ``TIMESTAMP`` values in UTC (no time zone attached); the bar's **open** time.
* Prices are ``DOUBLE`` in quote currency; volume is in base-asset units, as exchanges report it.
* ``series`` is one price series: (symbol, source label, kind spot/perp, frequency).
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the first store: series, prices, ingest log
    (
        "CREATE SEQUENCE series_id_seq START 1",
        """CREATE TABLE series (
            series_id  INTEGER PRIMARY KEY DEFAULT nextval('series_id_seq'),
            symbol     VARCHAR NOT NULL,
            source     VARCHAR NOT NULL,
            kind       VARCHAR NOT NULL CHECK (kind IN ('spot', 'perp')),
            freq       VARCHAR NOT NULL CHECK (freq IN ('1h', '4h', '1d')),
            created_at TIMESTAMP NOT NULL,
            UNIQUE (symbol, source, kind, freq)
        )""",
        """CREATE TABLE prices (
            series_id INTEGER NOT NULL,
            ts        TIMESTAMP NOT NULL,
            open      DOUBLE NOT NULL,
            high      DOUBLE NOT NULL,
            low       DOUBLE NOT NULL,
            close     DOUBLE NOT NULL,
            volume    DOUBLE,
            PRIMARY KEY (series_id, ts)
        )""",
        "CREATE SEQUENCE ingest_id_seq START 1",
        """CREATE TABLE ingest_log (
            ingest_id     INTEGER PRIMARY KEY DEFAULT nextval('ingest_id_seq'),
            ingested_at   TIMESTAMP NOT NULL,
            series_id     INTEGER NOT NULL,
            origin        VARCHAR NOT NULL,
            file_hash     VARCHAR,
            rows_read     BIGINT NOT NULL,
            rows_added    BIGINT NOT NULL,
            rows_replaced BIGINT NOT NULL
        )""",
    ),
    # 2: synthetic flag on series, ingest remarks (duplicates dropped, gaps), fit cache
    (
        "ALTER TABLE series ADD COLUMN synthetic BOOLEAN DEFAULT false",
        "UPDATE series SET synthetic = (source = 'synthetic')",
        "ALTER TABLE ingest_log ADD COLUMN duplicates_dropped BIGINT DEFAULT 0",
        "ALTER TABLE ingest_log ADD COLUMN gaps BIGINT DEFAULT 0",
        "ALTER TABLE ingest_log ADD COLUMN missing_bars BIGINT DEFAULT 0",
        """CREATE TABLE fit_cache (
            series_id   INTEGER NOT NULL,
            fingerprint VARCHAR NOT NULL,
            spec_key    VARCHAR NOT NULL,
            as_of       TIMESTAMP NOT NULL,
            created_at  TIMESTAMP NOT NULL,
            payload     VARCHAR NOT NULL,
            PRIMARY KEY (series_id, fingerprint, spec_key, as_of)
        )""",
    ),
    # 3: proposals. The content (canonical JSON) is immutable and addressed by its SHA-256; nothing updates
    # it (riskparams.store.records has no UPDATE and checks the hash on every read). The status lives apart,
    # in an append-only log (seq 1 = 'draft' when first stored); the data each proposal used is indexed by
    # series for provenance queries.
    (
        """CREATE TABLE proposals (
            proposal_id        VARCHAR PRIMARY KEY,
            profile            VARCHAR NOT NULL CHECK (profile IN ('perp', 'lending')),
            as_of              TIMESTAMP,
            created_at         TIMESTAMP NOT NULL,
            policy_key         VARCHAR NOT NULL,
            riskparams_version VARCHAR NOT NULL,
            n_assets           INTEGER NOT NULL,
            n_skipped          INTEGER NOT NULL,
            content            VARCHAR NOT NULL
        )""",
        """CREATE TABLE proposal_data (
            proposal_id VARCHAR NOT NULL,
            symbol      VARCHAR NOT NULL,
            series_id   INTEGER,
            freq        VARCHAR NOT NULL,
            source      VARCHAR NOT NULL,
            kind        VARCHAR NOT NULL,
            fingerprint VARCHAR NOT NULL,
            last_bar    TIMESTAMP,
            PRIMARY KEY (proposal_id, symbol)
        )""",
        """CREATE TABLE proposal_status_log (
            proposal_id VARCHAR NOT NULL,
            seq         INTEGER NOT NULL,
            status      VARCHAR NOT NULL,
            changed_at  TIMESTAMP NOT NULL,
            actor       VARCHAR,
            note        VARCHAR,
            PRIMARY KEY (proposal_id, seq)
        )""",
    ),
    # 4: governance (riskparams.governance, SQL in riskparams.store.governance_records). An append-only audit
    # log of every committee action (who, when, what, comment; sign-offs and dissents are audit events too),
    # and the revision links: an override stores a NEW proposal whose parent is the one it changes. Nothing
    # updates or deletes these rows; the status itself stays in proposal_status_log.
    (
        "CREATE SEQUENCE governance_event_seq START 1",
        """CREATE TABLE governance_events (
            event_id      BIGINT PRIMARY KEY DEFAULT nextval('governance_event_seq'),
            proposal_id   VARCHAR NOT NULL,
            event_at      TIMESTAMP NOT NULL,
            actor         VARCHAR NOT NULL,
            actor_name    VARCHAR NOT NULL,
            actor_role    VARCHAR NOT NULL,
            actor_address VARCHAR,
            action        VARCHAR NOT NULL,
            from_status   VARCHAR,
            to_status     VARCHAR,
            comment       VARCHAR,
            detail        VARCHAR
        )""",
        """CREATE TABLE proposal_revisions (
            proposal_id   VARCHAR PRIMARY KEY,
            parent_id     VARCHAR NOT NULL,
            root_id       VARCHAR NOT NULL,
            revision      INTEGER NOT NULL,
            created_at    TIMESTAMP NOT NULL,
            actor         VARCHAR NOT NULL,
            justification VARCHAR NOT NULL
        )""",
    ),
    # 5: prices without the (series_id, ts) primary key. Maintaining that index cost more than half of a
    # bulk ingest (10M rows: 0.8M rows/s with it, above 2M without). Uniqueness is kept by the ingest
    # itself: every write to a series de-duplicates its input, skips or replaces bars already stored,
    # and first updates the series row, so two concurrent writes to one series conflict and one of them
    # rolls back (DuckDB's optimistic concurrency) instead of both inserting the same bar.
    (
        """CREATE TABLE prices_v5 (
            series_id INTEGER NOT NULL,
            ts        TIMESTAMP NOT NULL,
            open      DOUBLE NOT NULL,
            high      DOUBLE NOT NULL,
            low       DOUBLE NOT NULL,
            close     DOUBLE NOT NULL,
            volume    DOUBLE
        )""",
        "INSERT INTO prices_v5 SELECT series_id, ts, open, high, low, close, volume FROM prices ORDER BY series_id, ts",
        "DROP TABLE prices",
        "ALTER TABLE prices_v5 RENAME TO prices",
        "ALTER TABLE series ADD COLUMN updated_at TIMESTAMP",
    ),
    # 6: backtest reports (riskparams.backtest; SQL in riskparams.store.backtest_records). A report's content
    # (canonical JSON) is immutable and addressed by its SHA-256, like a proposal's; spec and policy are copies
    # of parts of it for queries. Attachments link reports to proposals, append-only (one row per pair; nothing
    # updates or deletes either table).
    (
        """CREATE TABLE backtest_reports (
            report_id          VARCHAR PRIMARY KEY,
            profile            VARCHAR NOT NULL CHECK (profile IN ('perp', 'lending')),
            created_at         TIMESTAMP NOT NULL,
            start_ts           TIMESTAMP,
            end_ts             TIMESTAMP,
            symbols            VARCHAR NOT NULL,
            policy_key         VARCHAR NOT NULL,
            riskparams_version VARCHAR NOT NULL,
            spec               VARCHAR NOT NULL,
            policy             VARCHAR NOT NULL,
            payload            VARCHAR NOT NULL
        )""",
        """CREATE TABLE backtest_attachments (
            proposal_id VARCHAR NOT NULL,
            report_id   VARCHAR NOT NULL,
            attached_at TIMESTAMP NOT NULL,
            actor       VARCHAR,
            PRIMARY KEY (proposal_id, report_id)
        )""",
    ),
    # 7: tamper evidence and committee binding (riskparams.governance; SQL in riskparams.store.governance_records).
    # Every audit event gets a row in audit_chain: its SHA-256 over the event and the previous event's hash,
    # so an edited, deleted, inserted or reordered event breaks the chain (events written before this
    # version are sealed into it by the first write after the upgrade). prev_hash is UNIQUE: the chain cannot
    # fork. A signed action keeps its signature (canonical JSON) on the event. committees holds every
    # committee the store has used, addressed by the SHA-256 of its canonical JSON; events say which one a
    # proposal was bound to and which one is active. All three are append-only.
    (
        "ALTER TABLE governance_events ADD COLUMN signature VARCHAR",
        """CREATE TABLE audit_chain (
            event_id   BIGINT PRIMARY KEY,
            prev_hash  VARCHAR NOT NULL UNIQUE,
            event_hash VARCHAR NOT NULL UNIQUE
        )""",
        """CREATE TABLE committees (
            committee_hash VARCHAR PRIMARY KEY,
            content        VARCHAR NOT NULL,
            stored_at      TIMESTAMP NOT NULL
        )""",
    ),
    # impact of a proposal's parameter sets on a book of open positions (issue 14; SQL in
    # riskparams.store.impact_records). Content-addressed and append-only like backtest reports; keyed by the
    # proposal it was computed for (the newest one is shown and exported).
    (
        """CREATE TABLE impact_reports (
            impact_id   VARCHAR PRIMARY KEY,
            proposal_id VARCHAR NOT NULL,
            created_at  TIMESTAMP NOT NULL,
            source      VARCHAR NOT NULL,
            payload     VARCHAR NOT NULL
        )""",
    ),
    # phased execution plans of a proposal (issue 13; SQL in riskparams.store.plan_records). Content-addressed
    # and append-only; the newest plan of a proposal is shown and exported. plan_revisions links a plan's step
    # to the revision that carries it through the workflow.
    (
        """CREATE TABLE plans (
            plan_id     VARCHAR PRIMARY KEY,
            proposal_id VARCHAR NOT NULL,
            created_at  TIMESTAMP NOT NULL,
            actor       VARCHAR,
            payload     VARCHAR NOT NULL
        )""",
        """CREATE TABLE plan_revisions (
            plan_id     VARCHAR NOT NULL,
            step        INTEGER NOT NULL,
            revision_id VARCHAR NOT NULL,
            created_at  TIMESTAMP NOT NULL,
            PRIMARY KEY (plan_id, step)
        )""",
    ),
    # policy sweeps and their frontier (issue 16; SQL in riskparams.store.sweep_records). Content-addressed and
    # append-only like backtest reports; attachments link a sweep to a proposal (the newest is exported).
    (
        """CREATE TABLE sweep_reports (
            sweep_id   VARCHAR PRIMARY KEY,
            profile    VARCHAR NOT NULL CHECK (profile IN ('perp', 'lending')),
            created_at TIMESTAMP NOT NULL,
            symbols    VARCHAR NOT NULL,
            variants   INTEGER NOT NULL,
            payload    VARCHAR NOT NULL
        )""",
        """CREATE TABLE sweep_attachments (
            proposal_id VARCHAR NOT NULL,
            sweep_id    VARCHAR NOT NULL,
            attached_at TIMESTAMP NOT NULL,
            actor       VARCHAR,
            PRIMARY KEY (proposal_id, sweep_id)
        )""",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this riskparams writes."""
