"""The audit log: hash chain, signed checkpoints, tamper detection, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mlsecops.trust.signer import PayloadSigner
from mlsecops.controls.audit.log import AuditLog, Checkpoint, record_hash
from mlsecops.core.errors import AuditError


def _open(tmp_path: Path, **kwargs) -> AuditLog:
    return AuditLog.open(tmp_path / "audit.db", PayloadSigner(tmp_path / "keys"), **kwargs)


def _fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append("check", pipeline="patients", actor="pipeline", subject="ab" * 32,
                   data={"check": f"c{i}", "passed": i % 3 != 0, "value": i / 10})


def _attacker(tmp_path: Path) -> sqlite3.Connection:
    """Someone with write access to the file: the append-only triggers are no obstacle to them."""
    db = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
    db.execute("DROP TRIGGER records_no_update")
    db.execute("DROP TRIGGER records_no_delete")
    return db


def _kinds(log: AuditLog) -> list[tuple[str, int]]:
    return [(p.kind, p.seq) for p in log.verify().problems]


def test_intact_log_verifies_and_links_each_record_to_the_previous(tmp_path):
    log = _open(tmp_path)
    _fill(log, 20)
    log.checkpoint()
    records = log.records()
    assert [r.seq for r in records] == list(range(1, 21))
    assert all(b.prev == a.hash for a, b in zip(records, records[1:]))
    report = log.verify()
    assert report.ok, report.summary()
    assert (report.records, report.covered, report.head) == (20, 20, records[-1].hash)
    assert records[3].body == {"check": "c3", "passed": False, "value": 0.3}
    assert log.records(pipeline="other") == []


def test_the_database_itself_refuses_update_and_delete(tmp_path):
    log = _open(tmp_path)
    _fill(log, 3)
    db = sqlite3.connect(tmp_path / "audit.db")
    for sql in ("UPDATE records SET data='{}' WHERE seq=2", "DELETE FROM records WHERE seq=3"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    assert log.verify().ok


def test_edited_record_is_named(tmp_path):
    log = _open(tmp_path)
    _fill(log, 10)
    _attacker(tmp_path).execute("""UPDATE records SET data='{"check":"c4","passed":false,"value":0.4}' WHERE seq=5""")
    assert _kinds(log) == [("edited", 5)]


def test_edited_record_with_recomputed_hash_is_named(tmp_path):
    log = _open(tmp_path)
    _fill(log, 10)
    r = log.records()[4]
    data = '{"check":"c4","passed":true}'
    forged = record_hash(r.ts, r.kind, r.pipeline, r.actor, r.subject, data, r.prev)
    _attacker(tmp_path).execute("UPDATE records SET data=?, hash=? WHERE seq=5", (data, forged))
    report = log.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("edited", 5)]
    assert "re-hashed" in report.problems[0].detail


def test_rewritten_and_fully_rehashed_chain_is_caught_by_the_signed_checkpoint(tmp_path):
    log = _open(tmp_path)
    _fill(log, 10)
    log.checkpoint()
    db = _attacker(tmp_path)
    prev = log.records()[3].hash
    for r in log.records()[4:]:   # rewrite #5 and re-hash everything after it
        data = '{"check":"forged"}' if r.seq == 5 else r.data
        digest = record_hash(r.ts, r.kind, r.pipeline, r.actor, r.subject, data, prev)
        db.execute("UPDATE records SET data=?, prev=?, hash=? WHERE seq=?", (data, prev, digest, r.seq))
        prev = digest
    report = log.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("edited", 10)]
    assert "checkpoint" in report.problems[0].detail


def test_deleted_record_is_named(tmp_path):
    log = _open(tmp_path)
    _fill(log, 10)
    _attacker(tmp_path).execute("DELETE FROM records WHERE seq IN (4, 5)")
    report = log.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("deleted", 4)]
    assert "#4..#5" in report.problems[0].detail


def test_reordered_records_are_named(tmp_path):
    log = _open(tmp_path)
    _fill(log, 10)
    db = _attacker(tmp_path)
    db.execute("UPDATE records SET seq=-1 WHERE seq=6")
    db.execute("UPDATE records SET seq=6 WHERE seq=7")
    db.execute("UPDATE records SET seq=7 WHERE seq=-1")
    problems = _kinds(log)
    assert ("reordered", 6) in problems and ("reordered", 7) in problems
    assert {kind for kind, _ in problems} == {"reordered"}


def test_truncation_is_caught_by_the_witness_checkpoint(tmp_path):
    log = _open(tmp_path)
    _fill(log, 10)
    log.checkpoint()
    db = _attacker(tmp_path)
    db.execute("DELETE FROM records WHERE seq > 7")
    db.execute("DELETE FROM checkpoints")           # the attacker also removes the in-database checkpoints
    report = log.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("truncated", 8)]
    assert "#8..#10" in report.problems[0].detail


def test_truncation_with_witness_removed_is_caught_by_a_reviewer_copy(tmp_path):
    log = _open(tmp_path)
    _fill(log, 10)
    saved = Checkpoint.from_dict(log.checkpoint().to_dict())   # e.g. kept in the promotion evidence
    db = _attacker(tmp_path)
    db.execute("DELETE FROM records WHERE seq > 2")
    db.execute("DELETE FROM checkpoints")
    log.witness.unlink()
    assert log.verify().ok   # nothing inside the reach of the attacker is left to tell
    assert _kinds(log) == []
    assert [(p.kind, p.seq) for p in log.verify([saved]).problems] == [("truncated", 3)]


def test_forged_checkpoint_is_reported(tmp_path):
    log = _open(tmp_path)
    _fill(log, 5)
    cp = log.checkpoint()
    forged = Checkpoint(50, cp.head, cp.ts, cp.identity, cp.signature)   # claims more than was signed
    report = log.verify([forged])
    assert [(p.kind, p.seq) for p in report.problems] == [("checkpoint", 50)]


def test_checkpoints_are_signed_automatically_every_n_records(tmp_path):
    log = _open(tmp_path, checkpoint_every=4)
    _fill(log, 10)
    assert [c.seq for c in log.store.checkpoints()] == [4, 8]
    log.append_many([{"kind": "check", "data": {"i": i}} for i in range(3)])   # 11..13 crosses 12
    assert [c.seq for c in log.store.checkpoints()] == [4, 8, 13]
    assert log.witness_checkpoint().seq == 13


def test_append_many_is_all_or_nothing_and_bad_input_is_named(tmp_path):
    log = _open(tmp_path)
    _fill(log, 2)
    with pytest.raises(AuditError, match="JSON"):
        log.append_many([{"kind": "check", "data": {"ok": 1}}, {"kind": "check", "data": {"bad": object()}}])
    with pytest.raises(AuditError, match="lowercase word"):
        log.append("Drop Table", data={})
    assert log.head()[0] == 2 and log.verify().ok


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    (tmp_path / "audit.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(AuditError, match="audit.db"):
        _open(tmp_path)


def _writer(folder: str, name: str, count: int) -> None:
    log = AuditLog.open(Path(folder) / "audit.db", PayloadSigner(Path(folder) / "keys"), checkpoint_every=50)
    for i in range(count):
        log.append("check", pipeline=name, actor=name, data={"i": i})
    log.close()


def test_two_processes_appending_at_once_keep_one_valid_chain(tmp_path):
    _open(tmp_path).close()   # create the database before the race; the auditor key is made by whoever is first
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), name, 300)) for name in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    log = _open(tmp_path)
    report = log.verify()
    assert report.ok, report.summary()
    assert report.records == 600
    for name in ("a", "b"):
        assert [r.body["i"] for r in log.records(pipeline=name)] == list(range(300))
    pipelines = [r.pipeline for r in log.records()]
    assert any(x != y for x, y in zip(pipelines, pipelines[1:])), "the writers never interleaved"


def test_cli_audit_verify_names_the_tampered_record_and_exits_1(tmp_path):
    home = tmp_path / "home"
    log = AuditLog.open(home / "audit.db", PayloadSigner(home / "keys"))
    _fill(log, 6)
    log.checkpoint()
    env = {**os.environ, "MLSECOPS_HOME": str(home), "COLUMNS": "200"}
    cli = [sys.executable, "-m", "mlsecops", "audit", "verify"]
    cwd = Path(__file__).parents[1]
    ok = subprocess.run(cli, capture_output=True, text=True, env=env, cwd=cwd)
    assert ok.returncode == 0 and "intact: 6 records" in ok.stdout
    db = sqlite3.connect(home / "audit.db", isolation_level=None)
    db.execute("DROP TRIGGER records_no_delete")
    db.execute("DELETE FROM records WHERE seq = 3")
    bad = subprocess.run([*cli, "--json"], capture_output=True, text=True, env=env, cwd=cwd)
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False and [(p["kind"], p["seq"]) for p in report["problems"]] == [("deleted", 3)]
