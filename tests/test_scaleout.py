"""Scale-out profile against real services: Postgres, an MLflow server and Dask executor workers.

Skipped (with the reason) only when the services cannot start here, e.g. no PostgreSQL binaries.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("dagster_dask", reason="scale-out extra not installed: pip install -e '.[scale]'")
pytest.importorskip("dagster_postgres", reason="scale-out extra not installed: pip install -e '.[scale]'")

from mlsecops.core.evidence import EvidenceStore  # noqa: E402
from mlsecops.core.home import Home  # noqa: E402
from mlsecops.scaleout.jobs import (Target, approve_candidate, collect, launch, open_instance,  # noqa: E402
                                    run_concurrently)
from mlsecops.scaleout.services import ScaledServices, ServiceError  # noqa: E402
from mlsecops.core.tracking import Tracker  # noqa: E402

from tests.conftest import PRE_PROMOTION  # noqa: E402

PIPELINES = ["patients", "digits"]


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    home = Home(tmp_path_factory.mktemp("scaled") / "home")
    try:
        services = ScaledServices.start(home, workers=2)
    except ServiceError as exc:
        pytest.skip(f"scale-out services could not start here: {exc}")
    yield services
    services.stop()


def _tracker(svc: ScaledServices) -> Tracker:
    return Tracker(svc.mlflow_uri, svc.home.root / "unused")


def _audit_log(svc: ScaledServices):
    from mlsecops.trust.signer import PayloadSigner
    from mlsecops.controls.audit.log import AuditLog
    from mlsecops.controls.audit.postgres import PostgresAuditStore

    return AuditLog(PostgresAuditStore(svc.audit_url), PayloadSigner(svc.home.keys))


def _audit_ok(svc: ScaledServices, pipeline: str | None = None, kinds: tuple[str, ...] = ()) -> list:
    log = _audit_log(svc)
    report = log.verify()
    assert report.ok, report.summary()
    assert not svc.home.audit_db.exists()  # the workers wrote to Postgres, not to a SQLite file
    return log.records(pipeline, kinds)


def test_audit_chain_on_postgres_stays_valid_under_concurrent_writers(svc: ScaledServices) -> None:
    import threading

    import psycopg2

    def writer(i: int) -> None:
        log = _audit_log(svc)
        for j in range(20):
            log.append("note", pipeline="load", actor=f"writer-{i}", subject=str(j), data={"i": i, "j": j})

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = _audit_ok(svc, "load")
    assert sorted((r.actor, r.subject) for r in records) == sorted((f"writer-{i}", str(j)) for i in range(4) for j in range(20))
    seqs = [r.seq for r in _audit_log(svc).records()]
    assert seqs == list(range(1, len(seqs) + 1))
    conn = psycopg2.connect(svc.audit_url)
    with pytest.raises(psycopg2.Error, match="append-only"), conn, conn.cursor() as cur:
        cur.execute("UPDATE audit_records SET data = '{}' WHERE seq = 1")
    conn.close()


def test_two_pipelines_run_concurrently_on_the_workers_and_promote(svc: ScaledServices) -> None:
    target = Target.of(svc)
    workers = set(svc.worker_pids().values())
    summaries = run_concurrently(PIPELINES, target)
    with open_instance(target) as instance:
        for name, summary in summaries.items():
            assert summary.awaiting_approval and not summary.errors, summary.errors
            assert [row[0] for row in summary.rows if row[1] == "ok"] == PRE_PROMOTION
            # the run and its step events live in Postgres, and every step ran on a Dask worker
            assert instance.get_run_record_by_id(summary.run_id) is not None
            starts = {e.dagster_event.step_key: e.dagster_event.pid for e in instance.all_logs(summary.run_id)
                      if e.dagster_event and e.dagster_event.event_type_value == "STEP_START"}
            assert len(starts) > len(PRE_PROMOTION) and set(starts.values()) <= workers, (starts, workers)

    models = {name: approve_candidate(target, name) for name in PIPELINES}
    promoted = run_concurrently(PIPELINES, target, steps=["promotion"])  # two writers of one audit chain
    store = EvidenceStore(svc.home.evidence)
    tracker = _tracker(svc)
    for name, summary in promoted.items():
        assert summary.success, summary.errors
        decision = store.latest(name, "promotion").data["decision"]
        assert decision["promoted"] and decision["reasons"] == [] and decision["model_sha256"] == models[name]
        assert store.latest(name, "promotion").ref.run_id == summary.run_id
        assert tracker.alias_version(name, "production") == decision["version"]
        # the registered model lives in the server's proxied artifact store, not a local path
        assert tracker.version(name, decision["version"]).source.startswith("mlflow-artifacts:")
    assert any(svc.artifacts_destination.rglob("model.safetensors"))
    promotions = _audit_ok(svc, kinds=("promotion",))
    assert {r.pipeline for r in promotions} == set(PIPELINES)


def _wait_for_workers(svc: ScaledServices, n: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while len(svc.worker_pids()) < n:
        assert time.monotonic() < deadline, "the nanny did not restart the killed worker"
        time.sleep(0.5)


def test_a_worker_killed_mid_run_fails_the_run_without_promotion_and_a_rerun_completes(svc: ScaledServices) -> None:
    from distributed import Client

    target = Target.of(svc)
    open_instance(target).dispose()
    tracker = _tracker(svc)
    before = tracker.alias_version("patients", "production")
    log = svc.logs / "run-killed.log"
    proc = launch("patients", target, log)
    killed = None
    with Client(svc.scheduler_address, timeout=30) as client:
        deadline = time.monotonic() + 120
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            for worker, keys in client.processing().items():
                if any("trained_model" in str(k) or "signed_model" in str(k) for k in keys):
                    info = client.scheduler_info(n_workers=-1)["workers"][worker]
                    killed = svc.kill_worker(info["name"])
                    break
            time.sleep(0.05)
    summary = collect(proc, "patients", log)
    assert killed is not None, "the run finished before a model step could be interrupted"
    assert not summary.success and not summary.awaiting_approval
    assert "promotion" not in {row[0] for row in summary.rows if row[1] == "ok"}
    with open_instance(target) as instance:
        assert instance.get_run_record_by_id(summary.run_id).dagster_run.is_failure
    assert not (svc.home.evidence / "patients" / summary.run_id / "promotion.json").exists()
    assert tracker.alias_version("patients", "production") == before  # no partial promotion

    _wait_for_workers(svc, 2)
    rerun = run_concurrently(["patients"], target)["patients"]  # completes; promotion awaits a new approval
    assert rerun.awaiting_approval and not rerun.errors, rerun.errors
    assert [row[0] for row in rerun.rows if row[1] == "ok"] == PRE_PROMOTION
    assert tracker.alias_version("patients", "production") == before
    _audit_ok(svc)
