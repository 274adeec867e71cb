"""Promotion: re-verify the whole chain of evidence by itself, require approvals, move the MLflow alias.

Materializing `promotion` alone skips its upstreams' Dagster checks, so it re-runs every check's
`evaluate` on the newest evidence, checks that the newest evidence forms one consistent chain,
verifies the signature over the registered model version's own artifact files, and requires the
signed approvals the policy asks for (bound to this model and evidence set, not by the trainer).
Every decision -- the re-run checks, the approvals verdict, promotion or refusal, rollback -- is
signed by the promoter identity and appended to the audit log, whose head is then checkpointed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlsecops.controls.audit import log as audit_kinds
from mlsecops.trust.signer import PayloadSigner
from mlsecops.controls.release.approvals import approvals_outcome, evidence_set_digest, load_approvals, review_approvals
from mlsecops.core.outcome import MODEL_DEPLOYMENT, CheckOutcome
from mlsecops.controls.model.signing import verify_trusted
from mlsecops.core.errors import MlsecopsError, PromotionRefused, SignatureError
from mlsecops.core.evidence import now_utc
from mlsecops.core.fileio import canonical_json, sha256_file
from mlsecops.checks.model import expected_materials, recorded_supply_chain
from mlsecops.checks.spec import EvidenceView
from mlsecops.controls.model.attestation import verify_attestation
from mlsecops.stages.framework import Stage, StageContext, StageResult
from mlsecops.stages.signed_model import PROVENANCE_FILE, SBOM_FILE


def reverify_checks(ctx: StageContext) -> tuple[list[CheckOutcome], list[str]]:
    """Every check of every stage before promotion, re-evaluated; plus chain-consistency reasons."""
    outcomes: list[CheckOutcome] = []
    reasons: list[str] = []
    for stage in ctx.spec.stages:
        if stage.name == "promotion":
            continue
        try:
            ev = ctx.upstream(stage.name)
        except MlsecopsError as exc:
            reasons.append(str(exc))
            continue
        for dep, used in ev.data.get("inputs", {}).items():
            newest = ctx.store.latest_ref(ctx.spec.name, dep).sha256
            if used != newest:
                reasons.append(f"'{stage.name}' was built from an older '{dep}' (evidence {used[:12]}…) than the "
                               f"newest one ({newest[:12]}…), whose checks did not let it through: re-run the pipeline")
        for check in stage.checks:
            try:
                outcome = check.evaluate(ctx, ctx.policy)
            except MlsecopsError as exc:
                outcome = CheckOutcome(check.name, False, None, None, "", MODEL_DEPLOYMENT, None, str(exc))
            outcomes.append(outcome)
            if not outcome.passed:
                reasons.append(f"check {stage.name}/{check.name} fails: {outcome.detail}")
    return outcomes, reasons


def candidate(view: EvidenceView) -> dict[str, Any]:
    """The model up for release: its digest, trainer, and the digest of the evidence set it stands on."""
    steps = {}
    for stage in view.spec.stages:
        if stage.name != "promotion":
            ref = view.evidence(stage.name).ref  # read and checked against its recorded digest
            steps[stage.name] = {"run_id": ref.run_id, "sha256": ref.sha256}
    trained = view.data("trained_model")
    return {"pipeline": view.spec.name, "model_sha256": trained["model"]["sha256"],
            "version": trained["mlflow"]["version"], "trainer": view.data("signed_model")["signature"]["identity"],
            "evidence_sha256": evidence_set_digest({k: v["sha256"] for k, v in steps.items()}), "evidence": steps}


def approvals_evidence(view: EvidenceView, home_approvals: Path) -> dict[str, Any]:
    """What the approvals control judges: the candidate plus every approval filed for the pipeline."""
    cand = candidate(view)
    return {**{k: cand[k] for k in ("pipeline", "model_sha256", "evidence_sha256", "trainer")},
            "approvals": load_approvals(home_approvals, view.spec.name)}


def _verify_version(ctx: StageContext, version: str, run_id: str, bundle_name: str, bundle_sha256: str,
                    identity: str, expected: str, supply_chain: bool = True) -> dict[str, Any]:
    """Verify a registered version's own files: signature by a trusted key, digest, and (for the
    newest evidence's version) the provenance and SBOM logged with it."""
    registered = ctx.tracker.version(ctx.spec.name, version)
    if registered.run_id != run_id:
        raise PromotionRefused(f"registered version {version} of '{ctx.spec.name}' comes from MLflow run "
                               f"{registered.run_id}, not the evidence's run {run_id}")
    tmp = Path(tempfile.mkdtemp(prefix="mlsecops-promote-"))
    try:
        model_dir = ctx.tracker.download(run_id, "model", tmp)
        bundle = ctx.tracker.download(run_id, f"signature/{bundle_name}", tmp)
        if sha256_file(bundle) != bundle_sha256:
            raise PromotionRefused("the signature bundle logged to MLflow differs from the one in the evidence")
        signed = verify_trusted(model_dir, bundle, ctx.keys, identity)
        chain = verify_registered_supply_chain(ctx, run_id, model_dir, tmp) if supply_chain else {}
        net = json.loads((model_dir / "model.json").read_text(encoding="utf-8")).get("net", {})  # signed content
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if signed.digest != expected:
        raise PromotionRefused(f"registered version {version} has digest {signed.digest[:12]}…, but the trained and "
                               f"signed model is {expected[:12]}…")
    return {"version": version, "run_id": run_id, "model_sha256": signed.digest, "identity": identity,
            "bundle": bundle_name, "bundle_sha256": bundle_sha256, "classifier": net,
            "weights_sha256": signed.manifest.get("model.safetensors"), **chain}


def verify_registered_version(ctx: StageContext) -> dict[str, Any]:
    """Download the registered version's files and its bundle; verify them; return the facts."""
    trained = ctx.data("trained_model")
    sig = ctx.data("signed_model")["signature"]
    if sig["signed_digest"] != trained["model"]["sha256"]:
        raise PromotionRefused(f"the signature covers {sig['signed_digest'][:12]}…, not the trained model "
                               f"{trained['model']['sha256'][:12]}…")
    return _verify_version(ctx, trained["mlflow"]["version"], trained["mlflow"]["run_id"], Path(sig["bundle"]).name,
                           sig["bundle_sha256"], sig["identity"], trained["model"]["sha256"])


def _signed(ctx: StageContext, decision: dict[str, Any], identity: str | None = None) -> dict[str, Any]:
    """The decision signed by `identity` (default: the policy's promoter), with who and when."""
    identity = identity or ctx.policy.promotion.identity
    body = {**decision, "decided_by": identity, "decided_at": now_utc()}
    signer = PayloadSigner(ctx.home.keys)
    return {**body, "signature": signer.sign(identity, canonical_json(body)),
            "key_sha256": signer.fingerprint(identity)}


def _record(ctx: StageContext, kind: str, decision: dict[str, Any], extra: list[CheckOutcome]) -> dict[str, Any]:
    """Append every re-run check and the decision in one transaction, then sign the log head."""
    pipeline, subject, actor = ctx.spec.name, decision.get("model_sha256"), decision.get("decided_by")
    entries = [{"kind": audit_kinds.CHECK, "pipeline": pipeline, "actor": actor, "subject": subject,
                "data": {**outcome, "phase": kind, "run_id": ctx.run_id}} for outcome in decision.get("checks", [])]
    entries += [{"kind": audit_kinds.CHECK, "pipeline": pipeline, "actor": actor, "subject": subject,
                 "data": {**o.to_dict(), "phase": kind, "run_id": ctx.run_id}} for o in extra]
    entries.append({"kind": kind, "pipeline": pipeline, "actor": actor, "subject": subject, "data": decision})
    records = ctx.audit.append_many(entries)
    checkpoint = ctx.audit.checkpoint()
    return {"seq": records[-1].seq, "hash": records[-1].hash, "checkpoint": checkpoint.to_dict()}


def promote(ctx: StageContext) -> dict[str, Any]:
    """Return the decision, or write a refusal document and raise PromotionRefused."""
    alias = ctx.policy.promotion.alias
    outcomes, reasons = reverify_checks(ctx)
    facts: dict[str, Any] = {}
    if not reasons:
        try:
            facts = verify_registered_version(ctx)
        except MlsecopsError as exc:
            reasons.append(str(exc))
    approvals: dict[str, Any] = {}
    approval_outcome: CheckOutcome | None = None
    try:
        cand = candidate(ctx)
        for step in cand["evidence"]:
            ctx.upstream(step)
        evidence = approvals_evidence(ctx, ctx.home.approvals)
        signer = PayloadSigner(ctx.home.keys)
        review = review_approvals(evidence, ctx.policy.approvals, signer)
        approval_outcome, approvals = approvals_outcome(review, evidence), review.to_dict()
    except MlsecopsError as exc:
        cand = {}
        reasons.append(f"no candidate to approve: {exc}")
    awaiting = bool(approval_outcome and not approval_outcome.passed and not reasons)
    if approval_outcome is not None and not approval_outcome.passed:
        reasons.append(f"approvals: {approval_outcome.detail}")
    previous = ctx.tracker.alias_version(ctx.spec.name, alias)
    decision = {"alias": alias, "previous_version": previous, "checks": [o.to_dict() for o in outcomes],
                "approvals": approvals, "promoted": not reasons, "awaiting_approval": awaiting, "reasons": reasons,
                "model_sha256": cand.get("model_sha256"), "evidence_sha256": cand.get("evidence_sha256"),
                "evidence": cand.get("evidence", {}), "trainer": cand.get("trainer"), **facts}
    decision = _signed(ctx, decision)
    extra = [approval_outcome] if approval_outcome is not None else []
    if reasons:
        audit = _record(ctx, audit_kinds.REFUSAL, decision, extra)
        ctx.store.write(ctx.spec.name, ctx.run_id, "promotion", {**decision, "audit": audit, "summary": "REFUSED"
                                                                  + (" (awaiting approval)" if awaiting else ""),
                                                                  "inputs": dict(ctx.used)})
        raise PromotionRefused(f"promotion of '{ctx.spec.name}' refused; alias '{alias}' unchanged "
                               f"({previous or 'unset'}): " + " | ".join(reasons))
    ctx.tracker.set_alias(ctx.spec.name, alias, facts["version"])
    decision["audit"] = _record(ctx, audit_kinds.PROMOTION, decision, extra)
    ctx.log.info(f"alias '{alias}' of '{ctx.spec.name}' -> version {facts['version']}")
    return decision


def rollback(ctx: StageContext, *, identity: str, reason: str = "") -> dict[str, Any]:
    """Move the alias back to the version promoted before the current one; verify it, sign and log it."""
    from mlsecops.controls.audit.forensics import alias_history

    alias = ctx.policy.promotion.alias
    current = ctx.tracker.alias_version(ctx.spec.name, alias)
    stack = alias_history(ctx.audit.records(ctx.spec.name, (audit_kinds.PROMOTION, audit_kinds.ROLLBACK)), alias)
    if current is None or not stack:
        raise PromotionRefused(f"nothing to roll back: alias '{alias}' of '{ctx.spec.name}' is "
                               f"{'unset' if current is None else 'not set by any promotion in the audit log'}")
    if stack[-1]["version"] != current:
        raise PromotionRefused(f"alias '{alias}' of '{ctx.spec.name}' points to version {current}, but the audit log's "
                               f"last promotion set version {stack[-1]['version']}: the alias was moved outside "
                               f"mlsecops; investigate before rolling back")
    if len(stack) < 2:
        raise PromotionRefused(f"nothing to roll back to: version {current} is the only version of "
                               f"'{ctx.spec.name}' ever promoted to '{alias}'")
    target = stack[-2]
    facts = _verify_version(ctx, target["version"], target["run_id"], target["bundle"], target["bundle_sha256"],
                            target["identity"], target["model_sha256"], supply_chain=False)  # attested at its promotion
    decision = {"alias": alias, "from_version": current, "to_version": target["version"],
                "previous_version": current, "version": target["version"], "promoted": True,
                "model_sha256": target["model_sha256"], "reason": reason, "restored_from_seq": target["seq"],
                **{k: facts[k] for k in ("run_id", "identity", "bundle", "bundle_sha256", "classifier",
                                         "weights_sha256")}}
    decision = _signed(ctx, decision, identity)
    ctx.tracker.set_alias(ctx.spec.name, alias, target["version"])
    decision["audit"] = _record(ctx, audit_kinds.ROLLBACK, decision, [])
    ctx.store.write(ctx.spec.name, ctx.run_id, "rollback", decision)
    return decision


def verify_registered_supply_chain(ctx: StageContext, run_id: str, model_dir: Path, tmp: Path) -> dict[str, Any]:
    """Check the provenance and SBOM logged with the registered version against its own model files."""
    recorded = recorded_supply_chain(ctx)
    identity = ctx.data("signed_model")["signature"]["identity"]
    prov = ctx.tracker.download(run_id, f"signature/{PROVENANCE_FILE}", tmp)
    sbom = ctx.tracker.download(run_id, f"signature/{SBOM_FILE}", tmp)
    if sha256_file(sbom) != recorded["sbom"]["sha256"]:
        raise SignatureError("the SBOM logged to MLflow differs from the one recorded and attested at signing")
    verified = verify_attestation(prov, list(ctx.keys.trusted(identity).values()), model_dir=model_dir,
                                  materials=expected_materials(ctx))
    return {"provenance_sha256": verified.envelope_sha256, "sbom_sha256": recorded["sbom"]["sha256"]}


def _promotion(ctx: StageContext) -> StageResult:
    decision = promote(ctx)
    return StageResult({"decision": decision}, summary=f"alias '{decision['alias']}' -> version {decision['version']}",
                       metadata={"alias": decision["alias"], "model_version": decision["version"],
                                 "model_sha256": decision["model_sha256"]})


def promotion_stage(after: str) -> Stage:
    return Stage("promotion", "Re-verifies every control's evidence and the signature, then sets the MLflow alias.",
                 (after,), _promotion, kinds=("mlflow",))
