"""Audit log throughput: appends/s and verify time for 100k records.

Baseline: the same rows inserted with plain sqlite3 into a table of the same columns, one
transaction per row, same WAL / synchronous=NORMAL settings, but no hash chain, no head lookup
and no signed checkpoints. ratio = baseline time / our time (1.0 = chaining is free).
Targets (issue 8): >= 10,000 appends/s, verify of 100k records <= 2 s.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlsecops.trust.signer import PayloadSigner  # noqa: E402
from mlsecops.controls.audit.log import AuditLog  # noqa: E402
from mlsecops.core.fileio import canonical_json  # noqa: E402

N = 100_000


def _data(i: int) -> dict:
    return {"check": "approvals", "passed": i % 7 != 0, "value": i % 3, "threshold": 1,
            "policy_key": "approvals.required", "evidence": f"{i:064x}"}


def _plain(folder: Path) -> sqlite3.Connection:
    db = sqlite3.connect(folder / "plain.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, ts TEXT, kind TEXT, pipeline TEXT, actor TEXT, "
               "subject TEXT, data TEXT)")
    return db


def baseline_chunk(db: sqlite3.Connection, start: int, count: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + count):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO records (ts, kind, pipeline, actor, subject, data) VALUES (?,?,?,?,?,?)",
                   (datetime.now(timezone.utc).isoformat(timespec="microseconds"), "check", "patients",
                    "pipeline", "ab" * 32, canonical_json(_data(i)).decode()))
        db.execute("COMMIT")
    return time.perf_counter() - began


def ours_chunk(log: AuditLog, start: int, count: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + count):
        log.append("check", pipeline="patients", actor="pipeline", subject="ab" * 32, data=_data(i))
    return time.perf_counter() - began


def main() -> None:
    # The machine is shared: alternate 10k-row chunks of baseline and ours so both see the same load.
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = _plain(folder)
        log = AuditLog.open(folder / "audit.db", PayloadSigner(folder / "keys"))
        log.checkpoint()  # key generation outside the timing
        base = append_s = 0.0
        cpu_start = time.process_time()
        for start in range(0, N, 10_000):
            base += baseline_chunk(db, start, 10_000)
            append_s += ours_chunk(log, start, 10_000)
        cpu = time.process_time() - cpu_start
        began = time.perf_counter()
        log.append_many({"kind": "check", "pipeline": "patients", "data": _data(i)} for i in range(10_000))
        batch_s = time.perf_counter() - began
        log.checkpoint()
        began = time.perf_counter()
        report = log.verify()
        verify_s = time.perf_counter() - began
        assert report.ok, report.summary()
        db.close()
        log.close()
    print(f"plain sqlite inserts (1 tx/row, no chain): {N / base:,.0f} rows/s ({base:.2f} s for {N:,})")
    print(f"audit appends (1 tx/record, chained, checkpoint every 1000): {N / append_s:,.0f} appends/s "
          f"({append_s:.2f} s for {N:,}; target >= 10,000/s)")
    print(f"  (process CPU for both loops: {cpu:.2f} s; wall {base + append_s:.2f} s)")
    print(f"audit append_many (one tx for 10,000): {10_000 / batch_s:,.0f} appends/s")
    print(f"verify {report.records:,} records + {report.checkpoints} checkpoints: {verify_s:.2f} s (target <= 2 s)")
    print(f"ratio: {base / append_s:.2f}")


if __name__ == "__main__":
    main()
