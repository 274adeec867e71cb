"""The audit log's chain on Postgres, for deployments whose writers do not share one filesystem.

    log = AuditLog(PostgresAuditStore("postgresql://audit:pw@db/audit"), PayloadSigner(home.keys))
    log.append("promotion", pipeline="patients", actor="promoter", subject=model_sha256, data=decision)
    log = open_audit_log(home.audit_db, signer)   # Postgres when MLSECOPS_AUDIT_URL is set, else SQLite

Same `AuditStore` contract as the SQLite default: a write transaction holds a transaction-scoped
advisory lock, so concurrent writers on any number of machines append one after the other; triggers
refuse UPDATE, DELETE and TRUNCATE of the records.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlsecops.controls.audit.log import GENESIS, AuditLog, AuditRecord, Checkpoint
from mlsecops.core.errors import AuditError
from mlsecops.core.home import Home
from mlsecops.trust.signer import PayloadSigner

AUDIT_URL_ENV = "MLSECOPS_AUDIT_URL"
_LOCK = 0x6D6C7365  # advisory lock key of the audit chain ("mlse")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_records (
    seq BIGINT PRIMARY KEY, ts TEXT NOT NULL, kind TEXT NOT NULL, pipeline TEXT, actor TEXT,
    subject TEXT, data TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq BIGINT NOT NULL, head TEXT NOT NULL, ts TEXT NOT NULL, identity TEXT NOT NULL, signature TEXT NOT NULL);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
DROP TRIGGER IF EXISTS audit_records_no_change ON audit_records;
CREATE TRIGGER audit_records_no_change BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
DROP TRIGGER IF EXISTS audit_records_no_truncate ON audit_records;
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"""


class PostgresAuditStore:
    """`AuditStore` on Postgres (psycopg2); `url` is a libpq URL (`postgresql://user:pw@host:port/db`)."""

    def __init__(self, url: str, connect_timeout: int = 10) -> None:
        import psycopg2

        self._errors = psycopg2.Error
        try:
            self._db = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://", 1),
                                        connect_timeout=connect_timeout)
            with self._db, self._db.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))  # concurrent first opens
                cur.execute(_SCHEMA)
        except psycopg2.Error as exc:
            raise AuditError(f"audit database {_redact(url)} cannot be opened: {str(exc).strip()}") from None

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator["PostgresAuditStore"]:
        try:
            with self._db, self._db.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                cur.execute("SET LOCAL synchronous_commit = " + ("on" if durable else "local"))
                self._cur = cur
                yield self
        except self._errors as exc:
            raise AuditError(f"audit write failed and was rolled back: {str(exc).strip()}") from None
        finally:
            self._cur = None

    def _cursor(self) -> Any:
        cur = getattr(self, "_cur", None)
        if cur is None:
            raise AuditError("audit writes must happen inside transaction()")
        return cur

    def head(self) -> tuple[int, str]:
        cur = getattr(self, "_cur", None)
        if cur is None:
            with self._db, self._db.cursor() as own:
                own.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
                row = own.fetchone()
        else:
            cur.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
            row = cur.fetchone()
        return (int(row[0]), row[1]) if row else (0, GENESIS)

    def insert(self, records: Sequence[AuditRecord]) -> None:
        self._cursor().executemany(
            "INSERT INTO audit_records VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            [(r.seq, r.ts, r.kind, r.pipeline, r.actor, r.subject, r.data, r.prev, r.hash) for r in records])

    def insert_checkpoint(self, checkpoint: Checkpoint) -> None:
        c = checkpoint
        self._cursor().execute("INSERT INTO audit_checkpoints VALUES (%s,%s,%s,%s,%s)",
                               (c.seq, c.head, c.ts, c.identity, c.signature))

    def rows(self, pipeline: str | None = None, kinds: Sequence[str] = ()) -> Iterator[tuple]:
        sql, args, where = "SELECT seq, ts, kind, pipeline, actor, subject, data, prev, hash FROM audit_records", [], []
        if pipeline is not None:
            where.append("pipeline = %s")
            args.append(pipeline)
        if kinds:
            where.append("kind = ANY(%s)")
            args.append(list(kinds))
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._db, self._db.cursor() as cur:
            cur.execute(sql + " ORDER BY seq", args)
            rows = cur.fetchall()
        for row in rows:
            yield (int(row[0]),) + tuple(row[1:])

    def checkpoints(self) -> list[Checkpoint]:
        with self._db, self._db.cursor() as cur:
            cur.execute("SELECT seq, head, ts, identity, signature FROM audit_checkpoints ORDER BY seq")
            return [Checkpoint(int(r[0]), *r[1:]) for r in cur.fetchall()]

    def close(self) -> None:
        self._db.close()


def _redact(url: str) -> str:
    head, sep, tail = url.rpartition("@")
    return (head.split("://")[0] + "://…@" + tail) if sep else url


def open_audit_log(path: Path, signer: Any, **kwargs: Any) -> AuditLog:
    """The audit log: on Postgres when `MLSECOPS_AUDIT_URL` is set, else the SQLite file at `path`.
    The newest checkpoint is mirrored to `<path stem>.head.json` either way."""
    url = os.environ.get(AUDIT_URL_ENV)
    if not url:
        return AuditLog.open(path, signer, **kwargs)
    path = Path(path)
    kwargs.setdefault("witness", path.with_name(path.stem + ".head.json"))
    return AuditLog(PostgresAuditStore(url), signer, **kwargs)


def open_home_audit_log(home: Home, checkpoint_every: int = 1000) -> AuditLog:
    """The home's decision log, its checkpoints signed with the home's `auditor` keys."""
    return open_audit_log(home.audit_db, PayloadSigner(home.keys), checkpoint_every=checkpoint_every)
