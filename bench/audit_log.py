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

from mlsecops.controls._keys import PayloadSigner  # noqa: E402
from mlsecops.controls.audit import AuditLog  # noqa: E402
from mlsecops.fileio import canonical_json  # noqa: E402

N = 100_000


def _data(i: int) -> dict:
    return {"check": "approvals", "passed": i % 7 != 0, "value": i % 3, "threshold": 1,
            "policy_key": "approvals.required", "evidence": f"{i:064x}"}


def baseline(folder: Path) -> float:
    db = sqlite3.connect(folder / "plain.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, ts TEXT, kind TEXT, pipeline TEXT, actor TEXT, "
               "subject TEXT, data TEXT)")
    start = time.perf_counter()
    for i in range(N):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO records (ts, kind, pipeline, actor, subject, data) VALUES (?,?,?,?,?,?)",
                   (datetime.now(timezone.utc).isoformat(timespec="microseconds"), "check", "patients",
                    "pipeline", "ab" * 32, canonical_json(_data(i)).decode()))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def ours(folder: Path) -> tuple[float, float, float, int]:
    log = AuditLog.open(folder / "audit.db", PayloadSigner(folder / "keys"))
    log.checkpoint()  # key generation outside the timing
    start = time.perf_counter()
    for i in range(N):
        log.append("check", pipeline="patients", actor="pipeline", subject="ab" * 32, data=_data(i))
    append_s = time.perf_counter() - start
    start = time.perf_counter()
    log.append_many({"kind": "check", "pipeline": "patients", "data": _data(i)} for i in range(10_000))
    batch_s = time.perf_counter() - start
    log.checkpoint()
    start = time.perf_counter()
    report = log.verify()
    verify_s = time.perf_counter() - start
    assert report.ok, report.summary()
    return append_s, batch_s, verify_s, report.records


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = baseline(folder)
        append_s, batch_s, verify_s, records = ours(folder)
    print(f"plain sqlite inserts (1 tx/row, no chain): {N / base:,.0f} rows/s ({base:.2f} s for {N:,})")
    print(f"audit appends (1 tx/record, chained, checkpoint every 1000): {N / append_s:,.0f} appends/s "
          f"({append_s:.2f} s for {N:,}; target >= 10,000/s)")
    print(f"audit append_many (one tx for 10,000): {10_000 / batch_s:,.0f} appends/s")
    print(f"verify {records:,} records + checkpoints: {verify_s:.2f} s (target <= 2 s)")
    print(f"ratio: {base / append_s:.2f}")


if __name__ == "__main__":
    main()
