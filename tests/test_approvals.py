"""Signed approvals: binding to model and evidence, separation of duty, roles, expiry."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from mlsecops.trust.signer import PayloadSigner
from mlsecops.controls.release.approvals import (evaluate_approvals, evidence_set_digest, load_approvals,
                                         review_approvals, save_approval, sign_approval)
from mlsecops.core.errors import EvidenceError, SignatureError
from mlsecops.controls.release.policy import ApprovalPolicy

MODEL = "a" * 64
OTHER_MODEL = "b" * 64
EVIDENCE = evidence_set_digest({"raw_data": "1" * 64, "trained_model": "2" * 64, "signed_model": "3" * 64})
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
POLICY = ApprovalPolicy(roles={"release-manager": ("demo-approver", "trainer", "rm2"),
                               "security-reviewer": ("sec",)})


@pytest.fixture
def signer(tmp_path):
    return PayloadSigner(tmp_path / "keys")


def _approve(signer, identity="demo-approver", role="release-manager", model=MODEL, evidence=EVIDENCE,
             hours=24, now=T0):
    return sign_approval(signer, pipeline="patients", model_sha256=model, evidence_sha256=evidence,
                         identity=identity, role=role, valid_for=timedelta(hours=hours), comment="ok", now=now)


def _evaluate(signer, approvals, policy=POLICY, now=T0 + timedelta(hours=1), model=MODEL, evidence=EVIDENCE):
    doc = {"pipeline": "patients", "model_sha256": model, "evidence_sha256": evidence, "trainer": "trainer",
           "approvals": [a if isinstance(a, dict) else a.to_dict() for a in approvals]}
    return evaluate_approvals(doc, policy, signer, now=now)


def test_a_valid_approval_passes_and_names_the_approver(signer):
    outcome = _evaluate(signer, [_approve(signer)])
    assert outcome.passed, outcome.detail
    assert (outcome.value, outcome.threshold, outcome.policy_key) == (1, 1, "approvals.required")
    assert "demo-approver as release-manager" in outcome.detail


def test_no_approval_is_refused_and_says_how_to_approve(signer):
    outcome = _evaluate(signer, [])
    assert not outcome.passed and outcome.value == 0
    assert "mlsecops approve --pipeline patients" in outcome.detail


def test_the_trainer_may_not_approve_its_own_model(signer):
    outcome = _evaluate(signer, [_approve(signer, identity="trainer")])
    assert not outcome.passed
    assert "separation of duty" in outcome.detail


def test_an_approval_for_another_model_or_changed_evidence_is_refused(signer):
    other = _evaluate(signer, [_approve(signer, model=OTHER_MODEL)])
    assert not other.passed and "not the candidate" in other.detail
    changed = evidence_set_digest({"raw_data": "1" * 64, "trained_model": "2" * 64, "signed_model": "4" * 64})
    stale = _evaluate(signer, [_approve(signer)], evidence=changed)
    assert not stale.passed and "evidence changed" in stale.detail


def test_expired_and_overlong_approvals_are_refused(signer):
    expired = _evaluate(signer, [_approve(signer, hours=1)], now=T0 + timedelta(hours=2))
    assert not expired.passed and "expired at" in expired.detail
    overlong = _evaluate(signer, [_approve(signer, hours=24 * 30)])
    assert not overlong.passed and "max_validity_hours" in overlong.detail
    future = _evaluate(signer, [_approve(signer, now=T0 + timedelta(hours=5))])
    assert not future.passed and "future" in future.detail


def test_an_edited_approval_fails_its_signature(signer):
    doc = _approve(signer).to_dict()
    doc["model_sha256"] = OTHER_MODEL
    outcome = _evaluate(signer, [doc], model=OTHER_MODEL)
    assert not outcome.passed and "bad signature" in outcome.detail


def test_an_unknown_identity_or_a_role_not_held_is_refused(signer):
    review = review_approvals({"pipeline": "patients", "model_sha256": MODEL, "evidence_sha256": EVIDENCE,
                               "trainer": "trainer",
                               "approvals": [_approve(signer, identity="mallory").to_dict(),
                                             _approve(signer, role="security-reviewer").to_dict(),
                                             _approve(signer, role="owner").to_dict()]},
                              POLICY, signer, now=T0)
    assert not review.passed and review.accepted == []
    reasons = [" ".join(v.reasons) for v in review.verdicts]
    assert "'mallory' does not hold role 'release-manager'" in reasons[0]
    assert "does not hold role 'security-reviewer'" in reasons[1]
    assert "role 'owner' is not defined" in reasons[2]


def test_count_and_roles_need_distinct_identities(signer):
    policy = ApprovalPolicy(required=2, required_roles=("release-manager", "security-reviewer"),
                            roles=POLICY.roles)
    twice = _evaluate(signer, [_approve(signer), _approve(signer, now=T0 + timedelta(minutes=5))], policy)
    assert not twice.passed and twice.value == 1 and "missing role(s): security-reviewer" in twice.detail
    both = _evaluate(signer, [_approve(signer), _approve(signer, identity="sec", role="security-reviewer")], policy)
    assert both.passed and both.value == 2


def test_approvals_round_trip_through_files_and_garbage_is_rejected_not_fatal(signer, tmp_path):
    folder = tmp_path / "approvals"
    path = save_approval(folder, _approve(signer))
    (folder / "patients" / "junk.json").write_text("{not json")
    docs = load_approvals(folder, "patients")
    assert len(docs) == 2 and json.loads(path.read_text())["identity"] == "demo-approver"
    outcome = _evaluate(signer, docs)
    assert outcome.passed and "junk.json" in outcome.detail and "unreadable" in outcome.detail
    assert load_approvals(folder, "digits") == []


def test_evidence_set_digest_covers_every_step_and_bad_input_is_named(signer):
    steps = {"raw_data": "1" * 64, "trained_model": "2" * 64}
    assert evidence_set_digest(steps) == evidence_set_digest(dict(reversed(steps.items())))
    assert evidence_set_digest(steps) != evidence_set_digest({**steps, "trained_model": "5" * 64})
    with pytest.raises(EvidenceError):
        evidence_set_digest({})
    with pytest.raises(SignatureError, match="64 hex"):
        _approve(signer, model="abc")
    with pytest.raises(EvidenceError, match="trainer"):
        review_approvals({"pipeline": "p", "model_sha256": MODEL, "evidence_sha256": EVIDENCE}, POLICY, signer)


def test_rotated_approver_key_counts_until_the_old_key_is_untrusted(signer, tmp_path):
    from mlsecops.trust.keyring import KeyRing

    approval = _approve(signer)
    ring = KeyRing(tmp_path / "keys")
    old = ring.fingerprint("demo-approver")
    ring.rotate("demo-approver")
    assert _evaluate(PayloadSigner(tmp_path / "keys"), [approval]).passed      # old key still trusted
    ring.untrust(old[:16])
    outcome = _evaluate(PayloadSigner(tmp_path / "keys"), [approval])
    assert not outcome.passed and "bad signature" in outcome.detail
    assert _evaluate(PayloadSigner(tmp_path / "keys"), [_approve(PayloadSigner(tmp_path / "keys"))]).passed
