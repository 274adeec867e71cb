"""Decision forensics: reconstruct why a model was promoted, refused or rolled back.

    log = AuditLog.open(home.audit_db, PayloadSigner(home.keys))
    story = explain(log, EvidenceStore(home.evidence), "patients", alias="production")
    print(render(story))        # or json.dumps(story): trained when, on which data, checks, approvals, decision

The audit log says which decision was taken, by whom, over which evidence digests; the evidence
documents (re-read and checked against those digests) say what was measured. Nothing is taken
from mutable state such as the MLflow alias: the alias holder is replayed from the log itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from mlsecops.trust.signer import PayloadSigner
from mlsecops.controls.audit.log import PROMOTION, REFUSAL, ROLLBACK, AuditLog, AuditRecord, Checkpoint
from mlsecops.core.errors import AuditError, MlsecopsError, SignatureError
from mlsecops.core.evidence import EvidenceRef, EvidenceStore
from mlsecops.core.fileio import canonical_json

DECISIONS = (PROMOTION, REFUSAL, ROLLBACK)
_UNSIGNED = ("signature", "key_sha256", "audit")


def alias_history(records: Iterable[AuditRecord], alias: str) -> list[dict[str, Any]]:
    """Replay promotions and rollbacks: the stack of versions the alias held; the last one holds it now."""
    stack: list[dict[str, Any]] = []
    for rec in records:
        d = rec.body
        if d.get("alias") != alias:
            continue
        if rec.kind == PROMOTION and d.get("promoted"):
            entry = {k: d.get(k) for k in ("version", "run_id", "bundle", "bundle_sha256", "identity",
                                           "model_sha256")}
            entry.update(seq=rec.seq, ts=rec.ts)
            if stack and stack[-1]["version"] == entry["version"]:
                stack[-1] = entry
            else:
                stack.append(entry)
        elif rec.kind == ROLLBACK:
            while stack and stack[-1]["version"] != d.get("to_version"):
                stack.pop()
    return stack


def evidence_checkpoints(evidence_root: Path) -> list[Checkpoint]:
    """Audit checkpoints copied into promotion/rollback evidence: witnesses kept outside the log."""
    found = []
    for path in sorted(Path(evidence_root).glob("*/*/*.json")):
        if path.stem not in ("promotion", "rollback"):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8")).get("data", {})
            audit = (data.get("decision") or data).get("audit") or {}
            if audit.get("checkpoint"):
                found.append(Checkpoint.from_dict(audit["checkpoint"]))
        except (OSError, ValueError, AttributeError, AuditError):
            continue  # an unreadable witness only means one witness fewer
    return found


def _signature_status(signer: PayloadSigner, decision: dict[str, Any]) -> str:
    identity = decision.get("decided_by")
    if not identity or not decision.get("signature"):
        return "unsigned"
    body = {k: v for k, v in decision.items() if k not in _UNSIGNED}
    try:
        signer.verify(identity, canonical_json(body), decision["signature"])
    except SignatureError as exc:
        return f"INVALID ({exc})"
    return f"valid ({identity})"


def _load_evidence(store: EvidenceStore, pipeline: str, refs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for step, ref in refs.items():
        path = store.root / pipeline / ref["run_id"] / f"{step}.json"
        try:
            doc = store.load(EvidenceRef(pipeline, step, ref["run_id"], path, ref["sha256"]))
        except MlsecopsError as exc:
            out[step] = {"status": "UNVERIFIABLE", "detail": str(exc), "sha256": ref["sha256"]}
            continue
        out[step] = {"status": "intact", "sha256": ref["sha256"], "run_id": ref["run_id"],
                     "written_at": doc.body.get("written_at"), "data": doc.data}
    return out


def _datasets(evidence: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for step, ev in evidence.items():
        data = ev.get("data") or {}
        for role, rec in (("source", data.get("source")), ("training set", data.get("dataset")),
                          ("table", (data.get("outputs") or {}).get("table"))):
            if isinstance(rec, dict) and rec.get("sha256"):
                found.append({"step": step, "role": role, "sha256": rec["sha256"], "rows": rec.get("rows"),
                              "newest_record": rec.get("newest_record")})
    return found


def explain(log: AuditLog, store: EvidenceStore, pipeline: str, *, model: str | None = None,
            alias: str = "production") -> dict[str, Any]:
    """The decision about `model` (a digest or its 12+ character prefix), else the one behind `alias`."""
    records = log.records(pipeline)
    decisions = [r for r in records if r.kind in DECISIONS]
    if not decisions:
        raise AuditError(f"the audit log {getattr(log.store, 'path', '')} has no decision about pipeline "
                         f"'{pipeline}': run its promotion first")
    by_seq = {r.seq: r for r in records}
    if model:
        if len(model) < 12:
            raise AuditError(f"model digest '{model}' is too short: give at least 12 hex characters")
        matching = [r for r in decisions if (r.subject or "").startswith(model.lower())]
        if not matching:
            raise AuditError(f"no decision about model {model} of '{pipeline}' in the audit log")
        decision = matching[-1]
        basis = by_seq.get(decision.body.get("restored_from_seq"), decision)
        question = f"model {model}"
    else:
        stack = alias_history(records, alias)
        if stack:
            holder = stack[-1]
            setters = [r for r in decisions if r.kind in (PROMOTION, ROLLBACK) and r.body.get("alias") == alias]
            decision = setters[-1]
            basis = by_seq[holder["seq"]]
            question = f"alias '{alias}' (version {holder['version']})"
        else:
            decision = basis = decisions[-1]
            question = f"alias '{alias}' (never set; newest decision shown)"
    d, b = decision.body, basis.body
    evidence = _load_evidence(store, pipeline, b.get("evidence") or {})
    trained = evidence.get("trained_model", {})
    source = ((evidence.get("raw_data") or {}).get("data") or {}).get("source") or {}
    approvals = b.get("approvals") or {}
    report = log.verify(evidence_checkpoints(store.root))
    signer = log.signer
    history = [{"seq": r.seq, "ts": r.ts, "kind": r.kind, "version": r.body.get("version"),
                "model_sha256": r.subject, "by": r.actor} for r in decisions]
    return {
        "pipeline": pipeline,
        "question": question,
        "decision": {"kind": decision.kind, "outcome": _outcome(decision), "at": decision.ts, "seq": decision.seq,
                     "record_hash": decision.hash, "by": d.get("decided_by"), "alias": d.get("alias"),
                     "version": d.get("version") or d.get("to_version"), "previous_version": d.get("previous_version"),
                     "reasons": d.get("reasons", []), "reason": d.get("reason"),
                     "signature": _signature_status(signer, d)},
        "model": {"sha256": b.get("model_sha256"), "weights_sha256": b.get("weights_sha256"),
                  "classifier": b.get("classifier"), "version": b.get("version"), "mlflow_run": b.get("run_id"),
                  "signed_by": b.get("identity"), "trainer": b.get("trainer"),
                  "trained_at": trained.get("written_at"),
                  "metrics": (trained.get("data") or {}).get("metrics")},
        "data": {"newest_record": source.get("newest_record"), "collected_at": source.get("collected_at"),
                 "datasets": _datasets(evidence)},
        "checks": [{k: c.get(k) for k in ("check", "passed", "value", "threshold", "policy_key", "control",
                                          "atlas", "detail")} for c in b.get("checks", [])],
        "approvals": {"passed": approvals.get("passed"), "required": approvals.get("required"),
                      "approved_by": approvals.get("approved_by", []),
                      "verdicts": [{k: v.get(k) for k in ("identity", "role", "issued_at", "expires_at",
                                                           "accepted", "reasons")}
                                   for v in approvals.get("verdicts", [])]},
        "evidence": {"set_sha256": b.get("evidence_sha256"),
                     "documents": {s: {k: e.get(k) for k in ("status", "sha256", "run_id", "written_at", "detail")
                                       if e.get(k) is not None} for s, e in evidence.items()}},
        "basis_seq": basis.seq,
        "history": history,
        "audit": report.to_dict(),
    }


def _outcome(rec: AuditRecord) -> str:
    d = rec.body
    if rec.kind == ROLLBACK:
        return f"ROLLED BACK from version {d.get('from_version')} to {d.get('to_version')}"
    if rec.kind == PROMOTION:
        return f"PROMOTED version {d.get('version')} to '{d.get('alias')}'"
    return "REFUSED (awaiting approval)" if d.get("awaiting_approval") else "REFUSED"


def render(story: dict[str, Any]) -> str:
    """A plain-text account of `explain`'s result for a reviewer."""
    d, m, data = story["decision"], story["model"], story["data"]
    lines = [f"{story['pipeline']}: {story['question']}",
             f"decision   {d['outcome']} at {d['at']} by {d['by']} (audit #{d['seq']}, signature {d['signature']})"]
    for reason in d.get("reasons") or []:
        lines.append(f"  reason   {reason}")
    if d.get("reason"):
        lines.append(f"  reason   {d['reason']}")
    classifier = m.get("classifier") or {}
    lines += [f"model      {m['sha256']} (MLflow version {m['version']}, run {m['mlflow_run']})",
              f"weights    {m['weights_sha256']}",
              f"classifier {classifier.get('architecture', '?')} {classifier}",
              f"trained    {m['trained_at']} by {m['trainer']}; signed by {m['signed_by']}",
              f"data       newest record {data['newest_record']}, collected {data['collected_at']}"]
    for ds in data["datasets"]:
        lines.append(f"  {ds['step']:<16} {ds['role']:<13} {ds['sha256']} rows={ds['rows']}")
    lines.append("checks")
    for c in story["checks"]:
        lines.append(f"  {'PASS' if c['passed'] else 'FAIL'} {c['check']:<22} value={c['value']} "
                     f"threshold={c['threshold']} ({c['policy_key']}, {c['control']}, {c['atlas'] or '-'})")
    a = story["approvals"]
    lines.append(f"approvals  {'satisfied' if a['passed'] else 'NOT satisfied'}: need {a['required']}, "
                 f"approved by {', '.join(a['approved_by']) or 'nobody'}")
    for v in a["verdicts"]:
        state = "accepted" if v["accepted"] else "rejected: " + "; ".join(v["reasons"])
        lines.append(f"  {v['identity']} as {v['role']} at {v['issued_at']} -> {state}")
    ev = story["evidence"]
    lines.append(f"evidence   set {ev['set_sha256']}")
    for step, e in ev["documents"].items():
        lines.append(f"  {step:<16} {e['status']:<12} {e['sha256'][:16]}… {e.get('written_at', e.get('detail', ''))}")
    lines.append("history")
    for h in story["history"]:
        lines.append(f"  #{h['seq']:<6} {h['ts']} {h['kind']:<9} version={h['version']} by {h['by']}")
    audit = story["audit"]
    lines.append(f"audit log  {'intact' if audit['ok'] else 'TAMPERED'}: {audit['records']} records, "
                 f"{len(audit['problems'])} problem(s)")
    return "\n".join(lines)
