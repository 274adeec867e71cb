"""Release through Dagster: approvals gate the promotion, the sensor triggers it, rollback, forensics."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest

from mlsecops.trust.signer import PayloadSigner
from mlsecops.controls.audit.log import AuditLog
from mlsecops.controls.audit.forensics import explain, render
from mlsecops.core.errors import PromotionRefused
from mlsecops.stages import promotion
from mlsecops.pipelines.patients import PATIENTS
from mlsecops.stages.promotion import candidate
from mlsecops.stages.framework import StageContext
from tests.conftest import PRE_PROMOTION, Env, approve, make_env, step_failures

CHECKS = {check.name for stage in PATIENTS.stages for check in stage.checks}
# The trainer is listed as a release manager here so that separation of duty is the only reason left.
POLICY = "approvals:\n  roles:\n    release-manager: [demo-approver, trainer]\n"


@pytest.fixture
def release_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.setenv("MLSECOPS_HOME", str(tmp_path / "home"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    monkeypatch.setenv("MLSECOPS_POLICY", str(policy))
    return make_env(tmp_path / "home", policy_path=str(policy))


def _promote(env: Env) -> str:
    result = env.run("patients", ["promotion"])
    return "" if result.success else step_failures(result)["promotion"]


def _sensor(env: Env) -> dg.RunRequest | dg.SkipReason:
    sensor = env.defs.get_sensor_def("patients_approval_sensor")
    context = dg.build_sensor_context(instance=env.instance, resources=env.defs.resources)
    return sensor(context)


def _log(env: Env) -> AuditLog:
    return AuditLog.open(env.home.audit_db, PayloadSigner(env.home.keys))


def test_approvals_gate_promotion_sensor_triggers_it_and_rollback_is_logged(release_env: Env) -> None:
    env = release_env
    tracker = env.tracker()
    assert env.run("patients").success is False          # the chain is clean, the release is not approved
    refusal = env.store().latest("patients", "promotion").data
    assert refusal["awaiting_approval"] and "no approval on file" in " ".join(refusal["reasons"])
    assert tracker.alias_version("patients", "production") is None
    assert isinstance(_sensor(env), dg.SkipReason)

    approve(env, "patients", identity="trainer")          # self-approval
    message = _promote(env)
    assert "separation of duty: 'trainer' trained this model" in message
    approve(env, "patients", model="f" * 64)               # approval of another digest
    message = _promote(env)
    assert "not the candidate" in message and tracker.alias_version("patients", "production") is None

    approve(env, "patients")                                # the demo approver, for this model and evidence
    request = _sensor(env)
    assert isinstance(request, dg.RunRequest) and request.tags["mlsecops/approved_by"] == "demo-approver"
    result = env.defs.get_job_def("patients_pipeline").execute_in_process(
        instance=env.instance, raise_on_error=False, asset_selection=request.asset_selection)
    assert result.success, step_failures(result)
    assert tracker.alias_version("patients", "production") == "1"

    log = _log(env)
    kinds = [r.kind for r in log.records("patients")]
    assert kinds.count("refusal") == 3 and kinds.count("promotion") == 1
    dagster_checks = [r.body for r in log.records("patients", ["check"]) if "stage" in r.body]
    assert {c["check"] for c in dagster_checks} == CHECKS
    promoted = log.records("patients", ["promotion"])[-1].body
    assert promoted["approvals"]["approved_by"] == ["demo-approver"]
    rejected = [v for v in promoted["approvals"]["verdicts"] if not v["accepted"]]
    assert {v["identity"] for v in rejected} == {"trainer", "demo-approver"}   # self-approval, other digest
    assert log.verify().ok

    story = explain(log, env.store(), "patients")
    assert story["decision"]["outcome"] == "PROMOTED version 1 to 'production'"
    assert story["decision"]["signature"] == "valid (promoter)"
    assert story["model"]["classifier"]["architecture"] == "mlp" and story["model"]["trainer"] == "trainer"
    assert story["model"]["weights_sha256"] and story["model"]["trained_at"]
    assert story["data"]["newest_record"].startswith("2024-") and story["data"]["datasets"]
    assert {c["check"] for c in story["checks"]} == CHECKS
    assert all(d["status"] == "intact" for d in story["evidence"]["documents"].values())
    assert "approved by demo-approver" in render(story)

    # Retrain: seeded training gives the same weights, but a new run's evidence needs a new approval.
    assert env.run("patients", PRE_PROMOTION).success
    message = _promote(env)
    assert "evidence changed since the approval" in message
    assert tracker.alias_version("patients", "production") == "1"
    approve(env, "patients")
    assert _promote(env) == ""
    assert tracker.alias_version("patients", "production") == "2"

    # Rollback: back to version 1, verified again, signed by the operator and logged.
    ctx = StageContext(PATIENTS, env.defs.resources["mlsecops"].policy("patients"), env.home, "rollback-test",
                       tracker, logging.getLogger("test"))
    decision = promotion.rollback(ctx, identity="promoter", reason="incident drill")
    assert (decision["from_version"], decision["to_version"]) == ("2", "1")
    assert tracker.alias_version("patients", "production") == "1"
    with pytest.raises(PromotionRefused, match="nothing to roll back to"):
        promotion.rollback(ctx, identity="promoter")

    log = _log(env)
    rec = log.records("patients", ["rollback"])[-1]
    assert rec.actor == "promoter" and rec.body["reason"] == "incident drill"
    story = explain(log, env.store(), "patients", alias="production")
    assert story["decision"]["outcome"] == "ROLLED BACK from version 2 to 1"
    assert story["decision"]["signature"] == "valid (promoter)" and story["model"]["version"] == "1"
    assert [h["kind"] for h in story["history"]] == ["refusal"] * 3 + ["promotion", "refusal", "promotion", "rollback"]
    assert candidate(ctx)["version"] == "2"                 # rollback does not touch the candidate
    assert log.verify().ok
