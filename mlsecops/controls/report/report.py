"""Risk assessment report: a run's evidence mapped to the AI risk framework and MITRE ATLAS.

    run = collect_run(store, "patients")                  # every evidence document of the latest run
    report = build_report(run, load_history(store, run, policy.report), policy.report)
    files = write_report(report, home.root / "reports" / "patients" / run.run_id)  # .html .json .sarif .md

The input is whatever evidence a run holds, so the report grows as controls are added: every
`check.<name>` document (a `CheckOutcome`) becomes a finding with its control area, ATLAS
technique and mitigation ids, severity x likelihood -> risk level, evidence digest and a
remediation hint; every other document is listed in the evidence inventory. Framework areas and
ATLAS techniques that no check covers are reported as gaps. Previous runs' summaries (their
recorded `risk_report` document, or their check documents) give the posture trend.

`evaluate(report_json, policy.report)` is the report's own gate (risk acceptance and framework
coverage), used by the Dagster check and by promotion alike.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from mlsecops.controls.report import atlas as _atlas
from mlsecops.core.outcome import CONTROL_AREAS, MODEL_DEPLOYMENT, MONITORING, CheckOutcome
from mlsecops.core.errors import EvidenceError
from mlsecops.core.evidence import SCHEMA as EVIDENCE_SCHEMA
from mlsecops.core.evidence import EvidenceStore
from mlsecops.core.fileio import sha256_bytes
from mlsecops.controls.report.policy import ReportPolicy

__all__ = ["REPORT_STEP", "RISK_ACCEPTANCE", "FRAMEWORK_COVERAGE", "EvidenceDoc", "RecordedOutcome",
           "RunEvidence", "Finding", "Gap", "RunSummary", "RiskReport", "ReportFiles", "collect_run",
           "load_history", "build_report", "write_report", "evaluate"]

REPORT_SCHEMA = "mlsecops.risk_report/v1"
REPORT_STEP = "risk_report"
CHECK_PREFIX = "check."
RISK_ACCEPTANCE = "report_risk_acceptance"
FRAMEWORK_COVERAGE = "report_framework_coverage"
# The report's own documents never count as evidence for the next report.
_OWN_STEPS = {REPORT_STEP, CHECK_PREFIX + RISK_ACCEPTANCE, CHECK_PREFIX + FRAMEWORK_COVERAGE}
_OUTCOME_FIELDS = ("check", "passed", "value", "threshold", "policy_key", "control", "atlas", "detail")


@dataclass(frozen=True)
class EvidenceDoc:
    """One evidence document of a run: its step, digest, time and path under the evidence root."""

    step: str
    sha256: str
    written_at: str
    path: str


@dataclass(frozen=True)
class RecordedOutcome:
    """A check outcome together with the evidence document that recorded it."""

    outcome: CheckOutcome
    doc: EvidenceDoc


@dataclass(frozen=True)
class RunEvidence:
    """Everything one run of a pipeline left in the evidence store."""

    pipeline: str
    run_id: str
    documents: tuple[EvidenceDoc, ...]
    outcomes: tuple[RecordedOutcome, ...]

    @property
    def started_at(self) -> str:
        return min((d.written_at for d in self.documents), default="")


@dataclass(frozen=True)
class Finding:
    """One control's result as a risk record."""

    check: str
    status: str                     # "fail" | "pass"
    control: str                    # framework control area
    techniques: tuple[str, ...]     # MITRE ATLAS technique ids
    mitigations: tuple[str, ...]    # MITRE ATLAS mitigation ids
    mitigation_note: str | None     # the control's own mitigation text, when it says more than ids
    severity: str
    likelihood: str
    risk: str
    rationale: str                  # why this likelihood
    value: Any
    threshold: Any
    policy_key: str
    detail: str
    remediation: str
    evidence: str                   # sha256 of the check's evidence document
    evidence_path: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass(frozen=True)
class Gap:
    """A framework area or ATLAS technique that no evidence of the run covers."""

    kind: str                       # "control area" | "ATLAS technique"
    id: str
    name: str
    severity: str | None
    hint: str


@dataclass(frozen=True)
class RunSummary:
    """The posture figures of one run: what the trend plots."""

    run_id: str
    at: str
    checks: int
    passed: int
    failed: int
    risks: dict[str, int]           # failing findings per risk level
    highest_risk: str               # "none" when nothing failed
    areas_covered: int
    areas_total: int
    techniques_covered: int
    techniques_total: int

    @property
    def pass_rate(self) -> float:
        return self.passed / self.checks if self.checks else 0.0

    @property
    def area_coverage(self) -> float:
        return self.areas_covered / self.areas_total if self.areas_total else 0.0

    @property
    def technique_coverage(self) -> float:
        return self.techniques_covered / self.techniques_total if self.techniques_total else 0.0

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "RunSummary":
        return cls(**{name: raw[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RiskReport:
    pipeline: str
    run_id: str
    generated_at: str
    verdict: str                    # "blocked" | "review" | "clear"
    headline: str
    policy: dict[str, Any]
    posture: RunSummary
    findings: tuple[Finding, ...]
    gaps: tuple[Gap, ...]
    trend: tuple[RunSummary, ...]   # previous runs, oldest first, then this run
    evidence: tuple[EvidenceDoc, ...]
    gate: tuple[CheckOutcome, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["schema"] = REPORT_SCHEMA
        return body


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path
    sarif: Path
    markdown: Path
    sha256: dict[str, str]          # file name -> digest


# ---------------------------------------------------------------- reading evidence

def collect_run(store: EvidenceStore, pipeline: str, run_id: str | None = None) -> RunEvidence:
    """Read and verify every evidence document of a run (the latest run if `run_id` is None)."""
    run_id = run_id or store.latest_run_id(pipeline)
    if run_id is None:
        raise EvidenceError(f"no runs of pipeline '{pipeline}' under {store.root}: "
                            f"run the pipeline before asking for its report")
    folder = store.root / pipeline / run_id
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise EvidenceError(f"run '{run_id}' of pipeline '{pipeline}' has no evidence documents in {folder}")
    recorded = _recorded_digests(store, pipeline, run_id)
    documents: list[EvidenceDoc] = []
    outcomes: list[RecordedOutcome] = []
    for path in paths:
        body, doc = _read_doc(store, path, pipeline, run_id, recorded)
        if doc.step in _OWN_STEPS:
            continue
        documents.append(doc)
        if doc.step.startswith(CHECK_PREFIX):
            outcomes.append(RecordedOutcome(_outcome_from(body["data"], path), doc))
    return RunEvidence(pipeline, run_id, tuple(documents), tuple(outcomes))


def _recorded_digests(store: EvidenceStore, pipeline: str, run_id: str) -> dict[str, str]:
    """Digests the store's index recorded for the steps whose newest document is in this run."""
    out = {}
    for step in store.steps(pipeline):
        ref = store.latest_ref(pipeline, step)
        if ref.run_id == run_id:
            out[step] = ref.sha256
    return out


def _read_doc(store: EvidenceStore, path: Path, pipeline: str, run_id: str,
              recorded: dict[str, str]) -> tuple[dict[str, Any], EvidenceDoc]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EvidenceError(f"evidence {path} is unreadable: {exc.strerror}") from exc
    digest = sha256_bytes(raw)
    step = path.name[: -len(".json")]
    if step in recorded and recorded[step] != digest:
        raise EvidenceError(f"evidence {path} was altered after it was written: sha256 {digest[:12]}… "
                            f"!= recorded {recorded[step][:12]}…")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise EvidenceError(f"evidence {path} is not JSON: {exc}") from exc
    expected = {"schema": EVIDENCE_SCHEMA, "pipeline": pipeline, "run_id": run_id, "step": step}
    wrong = [f"{k}={body.get(k)!r} (expected {v!r})" for k, v in expected.items()
             if not isinstance(body, dict) or body.get(k) != v]
    if wrong or not isinstance(body.get("data"), dict) or not isinstance(body.get("written_at"), str):
        raise EvidenceError(f"evidence {path} is not a {EVIDENCE_SCHEMA} document of this run: "
                            + ("; ".join(wrong) or "'data' or 'written_at' missing"))
    return body, EvidenceDoc(step, digest, body["written_at"], path.relative_to(store.root).as_posix())


def _technique_ids(raw: Any, where: Path | str) -> tuple[str, ...]:
    """ATLAS technique ids named by an outcome; text that names none is an error (a typo'd id)."""
    if raw is None or raw == "":
        return ()
    if not isinstance(raw, str):
        raise EvidenceError(f"{where}: 'atlas' must be a string naming ATLAS technique ids, got {raw!r}")
    ids = tuple(dict.fromkeys(_atlas.TECHNIQUE_ID.findall(raw)))
    if not ids:
        raise EvidenceError(f"{where}: ATLAS technique {raw!r} is malformed (expected ids such as 'AML.T0020' "
                            f"or 'AML.T0024.000')")
    return ids


def _mitigation_note(text: str | None) -> str | None:
    """What a control's mitigation text adds to its ids: a leading "M0016 vulnerability scanning, …:"
    only restates the Mitigations column, so the note is what follows it; ids alone add nothing."""
    if not text:
        return None
    head, colon, tail = text.partition(":")
    if colon and _atlas.MITIGATION_ID.search(head):
        text = tail
    elif _atlas.MITIGATION_ID.match(text.strip()):  # "AML.M0007", "M0013 code signing, M0025 …"
        return None
    return text.strip(" ,;") or None


def _mitigation_ids(raw: Any, where: Path | str) -> tuple[str, ...]:
    """ATLAS mitigation ids named in an outcome's mitigation text (prose without ids names none)."""
    if raw is None or raw == "":
        return ()
    if not isinstance(raw, str):
        raise EvidenceError(f"{where}: 'mitigation' must be text, got {raw!r}")
    return tuple(dict.fromkeys(_atlas.normalize_mitigation(m) for m in _atlas.MITIGATION_ID.findall(raw)))


def _outcome_from(data: dict[str, Any], where: Path) -> CheckOutcome:
    payload = data["outcome"] if isinstance(data.get("outcome"), dict) else data
    missing = [name for name in _OUTCOME_FIELDS if name not in payload]
    if missing:
        raise EvidenceError(f"{where}: check outcome lacks {', '.join(missing)}")
    if not isinstance(payload["passed"], bool):
        raise EvidenceError(f"{where}: 'passed' must be true or false, got {payload['passed']!r}")
    if payload["control"] not in CONTROL_AREAS:
        raise EvidenceError(f"{where}: control area {payload['control']!r} is not one of the framework's "
                            f"areas ({', '.join(CONTROL_AREAS)})")
    _technique_ids(payload["atlas"], where)
    _mitigation_ids(payload.get("mitigation"), where)
    return CheckOutcome(**{name: payload[name] for name in _OUTCOME_FIELDS},
                        mitigation=payload.get("mitigation"))


def load_history(store: EvidenceStore, run: RunEvidence, policy: ReportPolicy) -> list[RunSummary]:
    """Summaries of the pipeline's runs that started before `run`, oldest first.

    A run that has a `risk_report` document contributes the summary recorded then; an older run
    without one is summarized from its check documents; a run with no checks is left out.
    """
    folder = store.root / run.pipeline
    if policy.history_runs == 0 or not folder.is_dir():
        return []
    summaries = []
    for run_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != run.run_id):
        recorded = _recorded_digests(store, run.pipeline, run_dir.name)
        report_path = run_dir / f"{REPORT_STEP}.json"
        if report_path.exists():
            body, _ = _read_doc(store, report_path, run.pipeline, run_dir.name, recorded)
            try:
                summary = RunSummary.from_dict(body["data"]["posture"])
            except (KeyError, TypeError) as exc:
                raise EvidenceError(f"{report_path}: no valid 'posture' in the recorded report ({exc})") from exc
        else:
            if not any(run_dir.glob("*.json")):
                continue
            previous = collect_run(store, run.pipeline, run_dir.name)
            if not previous.outcomes:
                continue
            summary = _summarize(previous, _findings(previous, policy))
        if summary.at < run.started_at:
            summaries.append(summary)
    summaries.sort(key=lambda s: (s.at, s.run_id))
    return summaries[-policy.history_runs:]


# ---------------------------------------------------------------- assessing

def _rank(level: str) -> int:
    return _atlas.RISK_LEVELS.index(level)


def _severity(techniques: tuple[str, ...], policy: ReportPolicy) -> str:
    levels = [policy.severity.get(t) or (_atlas.TECHNIQUES[t].severity if t in _atlas.TECHNIQUES
                                         else policy.default_severity) for t in techniques]
    return max(levels or [policy.default_severity], key=_atlas.SEVERITIES.index)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _likelihood(outcome: CheckOutcome) -> tuple[str, str]:
    """How likely the threat is to be realised, judged from how the control measured."""
    if outcome.passed:
        return "rare", "the control passed: the measured value is within the policy threshold"
    value, threshold = outcome.value, outcome.threshold
    if _is_number(value) and _is_number(threshold):
        distance = abs(value - threshold)
        relative = distance / abs(threshold) if threshold else distance
        if relative >= 1.0:
            return "almost certain", (f"the control failed far from its threshold: {value} against "
                                      f"{threshold} (off by {relative:.0%} of the threshold)"
                                      if threshold else
                                      f"the control failed: {value} against a threshold of {threshold}")
        return "likely", f"the control failed near its threshold: {value} against {threshold}"
    return "likely", f"the control failed: {value!r} against {threshold!r}"


def _findings(run: RunEvidence, policy: ReportPolicy) -> list[Finding]:
    findings = []
    for recorded in run.outcomes:
        o = recorded.outcome
        techniques = _technique_ids(o.atlas, recorded.doc.path)
        mitigations = _mitigation_ids(o.mitigation, recorded.doc.path)
        if not mitigations:
            mitigations = tuple(dict.fromkeys(m for t in techniques if t in _atlas.TECHNIQUES
                                              for m in _atlas.TECHNIQUES[t].mitigations))
        severity = _severity(techniques, policy)
        likelihood, rationale = _likelihood(o)
        remediation = next((_atlas.TECHNIQUES[t].remediation for t in techniques if t in _atlas.TECHNIQUES),
                           _atlas.AREA_HINTS[o.control])
        findings.append(Finding(
            check=o.check, status="pass" if o.passed else "fail", control=o.control,
            techniques=techniques, mitigations=mitigations,
            mitigation_note=_mitigation_note(o.mitigation), severity=severity, likelihood=likelihood,
            risk=_atlas.risk_level(severity, likelihood), rationale=rationale, value=o.value,
            threshold=o.threshold, policy_key=o.policy_key, detail=o.detail, remediation=remediation,
            evidence=recorded.doc.sha256, evidence_path=recorded.doc.path))
    area_order = {a: i for i, a in enumerate(CONTROL_AREAS)}
    findings.sort(key=lambda f: (not f.failed, -_rank(f.risk) if f.failed else 0,
                                 -_atlas.SEVERITIES.index(f.severity), area_order[f.control], f.check))
    return findings


def _gaps(findings: Iterable[Finding], policy: ReportPolicy) -> list[Gap]:
    findings = list(findings)
    areas = {f.control for f in findings}
    techniques = {t for f in findings for t in f.techniques}
    gaps = [Gap("control area", area, area, None, _atlas.AREA_HINTS[area])
            for area in CONTROL_AREAS if area not in areas]
    gaps += [Gap("ATLAS technique", t.id, t.name, policy.severity.get(t.id, t.severity),
                 f"No check of this run measures it. {t.remediation}")
             for t in _atlas.TECHNIQUES.values() if t.id not in techniques]
    return gaps


def _summarize(run: RunEvidence, findings: list[Finding]) -> RunSummary:
    failing = [f for f in findings if f.failed]
    risks = {level: sum(f.risk == level for f in failing) for level in _atlas.RISK_LEVELS[1:]}
    highest = max((f.risk for f in failing), key=_rank, default="none")
    techniques = {t for f in findings for t in f.techniques} & set(_atlas.TECHNIQUES)
    return RunSummary(run_id=run.run_id, at=run.started_at, checks=len(findings),
                      passed=len(findings) - len(failing), failed=len(failing), risks=risks,
                      highest_risk=highest, areas_covered=len({f.control for f in findings}),
                      areas_total=len(CONTROL_AREAS), techniques_covered=len(techniques),
                      techniques_total=len(_atlas.TECHNIQUES))


def _gate(findings: list[dict[str, Any]], policy: ReportPolicy) -> list[CheckOutcome]:
    failing = [f for f in findings if f["status"] == "fail"]
    highest = max((f["risk"] for f in failing), key=_rank, default="none")
    over = [f"{f['check']} ({f['risk']})" for f in failing if _rank(f["risk"]) > _rank(policy.max_risk_level)]
    covered = {f["control"] for f in findings}
    missing = [a for a in CONTROL_AREAS if a not in covered]
    coverage = round(len(covered & set(CONTROL_AREAS)) / len(CONTROL_AREAS), 3)
    return [
        CheckOutcome(
            check=RISK_ACCEPTANCE, passed=not over, value=highest, threshold=policy.max_risk_level,
            policy_key="report.max_risk_level", control=MODEL_DEPLOYMENT, atlas=None,
            detail=(f"failing controls above the accepted risk: {', '.join(over)}" if over else
                    f"{len(failing)} failing control(s), none above the accepted risk '{policy.max_risk_level}'")),
        CheckOutcome(
            check=FRAMEWORK_COVERAGE, passed=coverage >= policy.min_area_coverage, value=coverage,
            threshold=policy.min_area_coverage, policy_key="report.min_area_coverage", control=MONITORING,
            atlas=None, detail=(f"{len(covered)} of {len(CONTROL_AREAS)} framework areas have evidence; "
                                f"no evidence for: {', '.join(missing) or 'none'}")),
    ]


def evaluate(report: dict[str, Any], policy: ReportPolicy) -> list[CheckOutcome]:
    """The report's gate, recomputed from its JSON findings (not from its recorded verdict)."""
    try:
        findings = [{k: f[k] for k in ("check", "status", "risk", "control")} for f in report["findings"]]
    except (KeyError, TypeError) as exc:
        raise EvidenceError(f"risk report of run {report.get('run_id')!r} has malformed findings: {exc}") from exc
    return _gate(findings, policy)


def _verdict(summary: RunSummary, gate: list[CheckOutcome], policy: ReportPolicy) -> tuple[str, str]:
    risk, coverage = gate
    if summary.checks == 0:
        return "blocked", "BLOCKED: this run recorded no control outcomes, so nothing vouches for the model"
    if not risk.passed:
        return "blocked", (f"BLOCKED: {summary.failed} of {summary.checks} controls failed; highest risk "
                           f"{summary.highest_risk.upper()} exceeds the accepted {policy.max_risk_level.upper()}")
    if not coverage.passed:
        return "blocked", (f"BLOCKED: evidence covers {summary.areas_covered} of {summary.areas_total} framework "
                           f"areas; the policy requires {policy.min_area_coverage:.0%}")
    if summary.failed:
        return "review", (f"REVIEW: {summary.failed} of {summary.checks} controls failed within the accepted "
                          f"risk ({policy.max_risk_level.upper()} or lower); decide before release")
    return "clear", f"CLEAR: all {summary.checks} controls passed"


def build_report(run: RunEvidence, history: Iterable[RunSummary] = (),
                 policy: ReportPolicy | None = None) -> RiskReport:
    """Assess one run: findings, gaps, verdict and the posture trend including this run."""
    policy = policy or ReportPolicy()
    findings = _findings(run, policy)
    summary = _summarize(run, findings)
    gate = _gate([asdict(f) for f in findings], policy)
    verdict, headline = _verdict(summary, gate, policy)
    return RiskReport(
        pipeline=run.pipeline, run_id=run.run_id,
        generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        verdict=verdict, headline=headline, policy=policy.model_dump(mode="json"), posture=summary,
        findings=tuple(findings), gaps=tuple(_gaps(findings, policy)),
        trend=(*history, summary), evidence=run.documents, gate=tuple(gate))


def write_report(report: RiskReport, folder: Path) -> ReportFiles:
    """Write the HTML, JSON, SARIF and Markdown forms of the report atomically into `folder`."""
    from mlsecops.controls.report import render  # matplotlib/jinja2 only when writing

    return render.write_all(report, Path(folder))
