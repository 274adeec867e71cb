"""Release approvals: signed records bound to one model digest and one evidence set.

    approval = sign_approval(signer, pipeline="patients", model_sha256=m, evidence_sha256=e,
                             identity="demo-approver", role="release-manager", valid_for=timedelta(hours=24))
    outcome = evaluate_approvals({"pipeline": "patients", "model_sha256": m, "evidence_sha256": e,
                                  "trainer": "trainer", "approvals": [approval.to_dict()]}, policy.approvals, signer)

OSS Dagster has no authentication, so an approval is not a click but a document signed with the
approver's own key. It names the exact model digest and the digest of the run's evidence set
(`evidence_set_digest`): a retrained model or any changed evidence needs a new approval. The
policy says how many distinct identities must approve and which roles must be among them, and who
holds each role. An approval by the identity that trained the model is refused (separation of
duty), as is an expired one, one for another digest, a bad signature, or a role the identity does
not hold. `evaluate_approvals` is what the Dagster check and the promotion step both call.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from mlsecops.trust.signer import PayloadSigner, check_identity
from mlsecops.core.outcome import MODEL_DEPLOYMENT, CheckOutcome
from mlsecops.core.errors import EvidenceError, MlsecopsError, SignatureError
from mlsecops.core.fileio import canonical_json, sha256_bytes, write_bytes_atomic

if TYPE_CHECKING:
    from mlsecops.controls.audit.log import AuditLog, AuditRecord
    from mlsecops.controls.release.policy import ApprovalPolicy

SCHEMA = "mlsecops.approval/v1"
_EVIDENCE_SET_SCHEMA = "mlsecops.evidence-set/v1"
_SIGNED_FIELDS = ("schema", "pipeline", "model_sha256", "evidence_sha256", "identity", "role",
                  "issued_at", "expires_at", "comment", "key_sha256")


def evidence_set_digest(steps: Mapping[str, str]) -> str:
    """One sha256 naming a run's evidence: the canonical map step -> evidence document sha256."""
    if not steps:
        raise EvidenceError("an evidence set needs at least one evidence document")
    return sha256_bytes(canonical_json({"schema": _EVIDENCE_SET_SCHEMA, "steps": dict(sorted(steps.items()))}))


@dataclass(frozen=True)
class Approval:
    """A signed approval; `payload` (every field but the signature, canonical JSON) is what is signed."""

    pipeline: str
    model_sha256: str
    evidence_sha256: str
    identity: str
    role: str
    issued_at: str
    expires_at: str
    comment: str
    key_sha256: str
    signature: str = ""
    schema: str = SCHEMA

    @property
    def payload(self) -> bytes:
        return _payload(asdict(self))

    @property
    def id(self) -> str:
        """Short name: digest of the whole signed document."""
        return sha256_bytes(canonical_json(self.to_dict()))[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _payload(doc: Mapping[str, Any]) -> bytes:
    return canonical_json({k: doc[k] for k in _SIGNED_FIELDS})


def _utc(ts: datetime | None) -> datetime:
    ts = ts or datetime.now(timezone.utc)
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return ts.astimezone(timezone.utc)


def sign_approval(signer: PayloadSigner, *, pipeline: str, model_sha256: str, evidence_sha256: str,
                  identity: str, role: str, valid_for: timedelta, comment: str = "",
                  now: datetime | None = None) -> Approval:
    """Sign an approval with `identity`'s key (generated on first use)."""
    check_identity(identity)
    for name, digest in (("model", model_sha256), ("evidence set", evidence_sha256)):
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise SignatureError(f"{name} digest '{digest}' is not a full lowercase sha256 (64 hex digits)")
    if valid_for <= timedelta(0):
        raise SignatureError(f"approval validity must be positive, got {valid_for}")
    issued = _utc(now)
    signer.private_key_path(identity)
    unsigned = Approval(pipeline, model_sha256, evidence_sha256, identity, role,
                        issued.isoformat(timespec="seconds"), (issued + valid_for).isoformat(timespec="seconds"),
                        comment, signer.fingerprint(identity))
    return Approval(**{**asdict(unsigned), "signature": signer.sign(identity, unsigned.payload)})


def save_approval(folder: Path, approval: Approval) -> Path:
    """Write `<folder>/<pipeline>/<model12>-<identity>-<id>.json` atomically; return its path."""
    path = Path(folder) / approval.pipeline / f"{approval.model_sha256[:12]}-{approval.identity}-{approval.id}.json"
    write_bytes_atomic(path, canonical_json(approval.to_dict()))
    return path


def load_approvals(folder: Path, pipeline: str) -> list[dict[str, Any]]:
    """Every approval document filed for `pipeline`, as dicts with `_source`; unreadable ones carry `_error`."""
    docs = []
    for path in sorted((Path(folder) / pipeline).glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            doc = {"_error": f"unreadable: {exc}"}
        docs.append({**doc, "_source": str(path)})
    return docs


@dataclass(frozen=True)
class Verdict:
    """One approval as judged: accepted when `reasons` is empty."""

    identity: str
    role: str
    issued_at: str
    expires_at: str
    source: str
    approval_id: str
    reasons: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reasons": list(self.reasons), "accepted": self.accepted}


@dataclass(frozen=True)
class ApprovalReview:
    """All approvals on file for one model and evidence set, judged against the policy."""

    verdicts: tuple[Verdict, ...]
    required: int
    required_roles: tuple[str, ...]
    identities: tuple[str, ...] = field(default=())
    missing_roles: tuple[str, ...] = field(default=())

    @property
    def accepted(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.accepted]

    @property
    def rejected(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.accepted]

    @property
    def passed(self) -> bool:
        return len(self.identities) >= self.required and not self.missing_roles

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "required": self.required, "required_roles": list(self.required_roles),
                "approved_by": list(self.identities), "missing_roles": list(self.missing_roles),
                "verdicts": [v.to_dict() for v in self.verdicts]}


def review_approvals(evidence: Mapping[str, Any], policy: "ApprovalPolicy", signer: PayloadSigner,
                     now: datetime | None = None) -> ApprovalReview:
    """Judge each approval in `evidence["approvals"]` for the model and evidence set in `evidence`."""
    now = _utc(now)
    try:
        pipeline, model, evidence_set, trainer = (evidence["pipeline"], evidence["model_sha256"],
                                                  evidence["evidence_sha256"], evidence["trainer"])
    except KeyError as exc:
        raise EvidenceError(f"approval evidence lacks {exc}: it needs pipeline, model_sha256, evidence_sha256, "
                            f"trainer and approvals") from None
    verdicts = [_judge(doc, pipeline, model, evidence_set, trainer, policy, signer, now)
                for doc in evidence.get("approvals", [])]
    identities: list[str] = []
    roles_covered: set[str] = set()
    for v in verdicts:
        if v.accepted:
            roles_covered.add(v.role)
            if v.identity not in identities:
                identities.append(v.identity)
    missing = tuple(r for r in policy.required_roles if r not in roles_covered)
    return ApprovalReview(tuple(verdicts), policy.required, tuple(policy.required_roles), tuple(identities), missing)


def evaluate_approvals(evidence: Mapping[str, Any], policy: "ApprovalPolicy", signer: PayloadSigner,
                       now: datetime | None = None) -> CheckOutcome:
    """The approvals control: enough valid, distinct, role-holding approvals that are not the trainer's."""
    return approvals_outcome(review_approvals(evidence, policy, signer, now), evidence)


def approvals_outcome(review: ApprovalReview, evidence: Mapping[str, Any]) -> CheckOutcome:
    """The CheckOutcome of a review (value: distinct valid approvers, threshold: the required count)."""
    accepted = ", ".join(f"{v.identity} as {v.role} at {v.issued_at}" for v in review.accepted) or "none"
    parts = [f"{len(review.identities)} valid approval(s) of model {evidence['model_sha256'][:12]}… "
             f"(need {review.required}): {accepted}"]
    if review.missing_roles:
        parts.append("missing role(s): " + ", ".join(review.missing_roles))
    for v in review.rejected:
        parts.append(f"rejected {v.identity or '?'} ({Path(v.source).name or v.approval_id}): " + "; ".join(v.reasons))
    if not review.verdicts:
        parts.append(f"no approval on file: run `mlsecops approve --pipeline {evidence['pipeline']} "
                     f"--model {evidence['model_sha256']} --identity NAME`")
    return CheckOutcome("approvals", review.passed, len(review.identities), review.required, "approvals.required",
                        MODEL_DEPLOYMENT, None, " | ".join(parts), mitigation="separation of duty")


def _judge(doc: Mapping[str, Any], pipeline: str, model: str, evidence_set: str, trainer: str,
           policy: "ApprovalPolicy", signer: PayloadSigner, now: datetime) -> Verdict:
    source = str(doc.get("_source", ""))
    identity, role = str(doc.get("identity", "")), str(doc.get("role", ""))
    verdict = dict(identity=identity, role=role, issued_at=str(doc.get("issued_at", "")),
                   expires_at=str(doc.get("expires_at", "")), source=source,
                   approval_id=sha256_bytes(canonical_json({k: v for k, v in doc.items() if k != "_source"}))[:16])
    if "_error" in doc:
        return Verdict(**verdict, reasons=(f"approval file {source} is {doc['_error']}",))
    missing = [k for k in (*_SIGNED_FIELDS, "signature") if not isinstance(doc.get(k), str)]
    if missing:
        return Verdict(**verdict, reasons=(f"malformed approval: missing or non-text field(s) {', '.join(missing)}",))
    if doc["schema"] != SCHEMA:
        return Verdict(**verdict, reasons=(f"unknown approval schema '{doc['schema']}' (expected {SCHEMA})",))
    try:
        signer.verify(identity, _payload(doc), doc["signature"])
    except SignatureError as exc:
        return Verdict(**verdict, reasons=(f"bad signature: {exc}",))
    reasons = []
    if doc["pipeline"] != pipeline:
        reasons.append(f"approves pipeline '{doc['pipeline']}', not '{pipeline}'")
    if doc["model_sha256"] != model:
        reasons.append(f"approves model {doc['model_sha256'][:12]}…, not the candidate {model[:12]}…")
    if doc["evidence_sha256"] != evidence_set:
        reasons.append(f"approves evidence set {doc['evidence_sha256'][:12]}…, but the run's evidence is now "
                       f"{evidence_set[:12]}… (evidence changed since the approval)")
    if identity == trainer:
        reasons.append(f"separation of duty: '{identity}' trained this model and may not approve it")
    holders = policy.roles.get(role)
    if holders is None:
        reasons.append(f"role '{role}' is not defined in approvals.roles")
    elif identity not in holders:
        reasons.append(f"'{identity}' does not hold role '{role}' (approvals.roles.{role}: {', '.join(holders)})")
    try:
        issued, expires = _utc(datetime.fromisoformat(doc["issued_at"])), _utc(datetime.fromisoformat(doc["expires_at"]))
    except ValueError as exc:
        reasons.append(f"bad timestamp: {exc}")
    else:
        if now > expires:
            reasons.append(f"expired at {doc['expires_at']}")
        if issued - now > timedelta(seconds=policy.max_clock_skew_seconds):
            reasons.append(f"issued in the future ({doc['issued_at']})")
        hours = (expires - issued).total_seconds() / 3600
        if hours > policy.max_validity_hours:
            reasons.append(f"valid for {hours:.1f} h, above approvals.max_validity_hours={policy.max_validity_hours}")
    return Verdict(**verdict, reasons=tuple(reasons))


class ApprovalRefused(MlsecopsError):
    """An approval that would not count: it is logged, never filed."""


@dataclass(frozen=True)
class Filed:
    approval: Approval
    path: Path
    record: "AuditRecord"


def file_approval(signer: PayloadSigner, log: "AuditLog", folder: Path, policy: "ApprovalPolicy",
                  candidate: Mapping[str, Any], *, identity: str, role: str | None = None,
                  hours: float | None = None, comment: str = "") -> Filed:
    """Sign an approval of `candidate` (model + evidence set), file it under `folder` and log it.

    The role defaults to the identity's first in the policy. An approval that would not count
    (trainer, unknown role, ...) is logged as refused and raises ApprovalRefused; nothing is filed.
    """
    pipeline = candidate["pipeline"]
    if role is None:
        held = [r for r, members in policy.roles.items() if identity in members]
        if not held:
            raise ApprovalRefused(f"identity '{identity}' holds no role in the policy's approvals.roles "
                                  f"({json.dumps({r: list(m) for r, m in policy.roles.items()})})")
        role = held[0]
    valid = min(hours or 24.0, policy.max_validity_hours)
    approval = sign_approval(signer, pipeline=pipeline, model_sha256=candidate["model_sha256"],
                             evidence_sha256=candidate["evidence_sha256"], identity=identity, role=role,
                             valid_for=timedelta(hours=valid), comment=comment)
    verdict = review_approvals({**candidate, "approvals": [approval.to_dict()]}, policy, signer).verdicts[0]
    if not verdict.accepted:
        log.append("approval", pipeline=pipeline, actor=identity, subject=candidate["model_sha256"],
                   data={**approval.to_dict(), "filed": False, "reasons": list(verdict.reasons)})
        log.checkpoint()
        raise ApprovalRefused(f"approval by '{identity}' would not count, so it was not filed: "
                              + "; ".join(verdict.reasons))
    path = save_approval(folder, approval)
    record = log.append("approval", pipeline=pipeline, actor=identity, subject=candidate["model_sha256"],
                        data={**approval.to_dict(), "filed": True, "file": str(path)})
    log.checkpoint()
    return Filed(approval, path, record)
