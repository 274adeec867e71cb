"""Risk report: findings, gaps, trend, gate, and its HTML / SARIF / Markdown forms, from real evidence documents."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

import mlsecops.core.evidence as evidence_module
from mlsecops.core.outcome import (
    DATA_COLLECTION,
    DATA_PROCESSING,
    MODEL_DEPLOYMENT,
    MODEL_TRAINING,
    CheckOutcome,
)
from mlsecops.controls.report.report import (
    FRAMEWORK_COVERAGE,
    REPORT_STEP,
    RISK_ACCEPTANCE,
    build_report,
    collect_run,
    evaluate,
    load_history,
    write_report,
)
from mlsecops.core.errors import EvidenceError, ReportError
from mlsecops.core.evidence import EvidenceStore
from mlsecops.controls.report.policy import ReportPolicy

PIPELINE = "patients"
SARIF_SCHEMA = Path(__file__).resolve().parent.parent / "mlsecops" / "schemas" / "sarif-schema-2.1.0.json"


def _clean_outcomes() -> list[CheckOutcome]:
    return [
        CheckOutcome("provenance_manifest", True, True, True, "source", DATA_COLLECTION, "AML.T0010",
                     "source digest recorded", "M0025"),
        CheckOutcome("validation_suite", True, 0, 0, "validation", DATA_PROCESSING, None, "0 expectations failed"),
        CheckOutcome("pii_residual", True, 0, 0, "pii.max_residual", DATA_PROCESSING, None, "no PII left",
                     "AML.M0007 sanitize training data: drop or mask personal data"),
        CheckOutcome("poison_screen", True, 0.01, 0.05, "poisoning.max_quarantine_fraction", DATA_PROCESSING,
                     "AML.T0020", "1% of rows quarantined"),
        CheckOutcome("test_accuracy", True, 0.95, 0.9, "training.min_test_accuracy", MODEL_TRAINING, None,
                     "accuracy 0.95"),
        CheckOutcome("adversarial_accuracy", True, 0.7, 0.6, "adversarial.min_accuracy", MODEL_TRAINING,
                     "AML.T0015, AML.T0043", "PGD accuracy 0.70"),
        CheckOutcome("membership_advantage", True, 0.02, 0.1, "adversarial.max_membership_advantage",
                     MODEL_TRAINING, "AML.T0024.000", "advantage 0.02"),
        CheckOutcome("model_scan", True, 0, 0, "scanning.max_findings", MODEL_DEPLOYMENT, "AML.T0011.000",
                     "3 scanners, 0 findings"),
        CheckOutcome("model_signature", True, True, True, "signing", MODEL_DEPLOYMENT, "AML.T0010",
                     "bundle verifies with the trainer key", "M0013"),
    ]


def _failing_outcomes() -> list[CheckOutcome]:
    failing = {
        # 1 unsafe file against 0 allowed: critical technique, far off -> critical
        "model_scan": CheckOutcome("model_scan", False, 1, 0, "scanning.max_findings", MODEL_DEPLOYMENT,
                                   "AML.T0011.000", "picklescan: model.pt imports os.system"),
        # 8% quarantined against 5%: high technique, near the threshold -> high
        "poison_screen": CheckOutcome("poison_screen", False, 0.08, 0.05, "poisoning.max_quarantine_fraction",
                                      DATA_PROCESSING, "AML.T0020", "8% of rows quarantined"),
        # adversarial accuracy 0.55 against 0.6: medium technique, near -> medium (accepted by default policy)
        "adversarial_accuracy": CheckOutcome("adversarial_accuracy", False, 0.55, 0.6, "adversarial.min_accuracy",
                                             MODEL_TRAINING, "AML.T0015", "PGD accuracy 0.55"),
    }
    return [failing.get(o.check, o) for o in _clean_outcomes()]


class _Clock:
    """The store stamps documents to the second; give each document its own second."""

    def __init__(self) -> None:
        self.t = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> str:
        self.t += timedelta(seconds=1)
        return self.t.isoformat(timespec="seconds")


@pytest.fixture
def store(tmp_path, monkeypatch) -> EvidenceStore:
    monkeypatch.setenv("MLSECOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(evidence_module, "now_utc", _Clock())
    return EvidenceStore(tmp_path / "home" / "evidence")


def _record_run(store: EvidenceStore, run_id: str, outcomes: list[CheckOutcome]) -> None:
    store.write(PIPELINE, run_id, "raw_data", {"sha256": "a" * 64, "rows": 569})
    store.write(PIPELINE, run_id, "trained_model", {"sha256": "b" * 64, "test_accuracy": 0.95})
    for outcome in outcomes:
        store.write(PIPELINE, run_id, f"check.{outcome.check}", outcome.to_dict())


def _report(store: EvidenceStore, run_id: str, policy: ReportPolicy | None = None):
    policy = policy or ReportPolicy()
    run = collect_run(store, PIPELINE, run_id)
    return build_report(run, load_history(store, run, policy), policy)


# ---------------------------------------------------------------- findings, gaps, gate

def test_clean_run_is_clear_and_lists_the_gaps(store):
    _record_run(store, "run-1", _clean_outcomes())
    report = _report(store, "run-1")

    assert report.verdict == "clear"
    assert report.headline == "CLEAR: all 9 controls passed"
    assert all(f.status == "pass" and f.likelihood == "rare" for f in report.findings)
    assert report.posture.highest_risk == "none" and report.posture.failed == 0
    assert [e.step for e in report.evidence][:2] == ["check.adversarial_accuracy", "check.membership_advantage"]
    assert {e.step for e in report.evidence} >= {"raw_data", "trained_model"}
    area_gaps = [g.id for g in report.gaps if g.kind == "control area"]
    assert area_gaps == ["system monitoring", "incident management", "business continuity"]
    technique_gaps = {g.id for g in report.gaps if g.kind == "ATLAS technique"}
    assert technique_gaps == {"AML.T0043.004", "AML.T0024.001", "AML.T0024.002", "AML.T0040",
                              "AML.T0029", "AML.T0034"}
    assert report.posture.areas_covered == 4 and report.posture.techniques_covered == 6
    assert [o.passed for o in report.gate] == [True, True]
    signed = next(f for f in report.findings if f.check == "model_signature")
    assert signed.mitigations == ("AML.M0013",)  # the outcome's own mitigation wins over the defaults
    assert signed.mitigation_note is None
    pii = next(f for f in report.findings if f.check == "pii_residual")
    assert pii.mitigations == ("AML.M0007",) and pii.mitigation_note.endswith("drop or mask personal data")


def test_failing_controls_become_ranked_findings_and_block(store):
    _record_run(store, "run-2", _failing_outcomes())
    report = _report(store, "run-2")

    failing = [f for f in report.findings if f.status == "fail"]
    assert [(f.check, f.severity, f.likelihood, f.risk) for f in failing] == [
        ("model_scan", "critical", "almost certain", "critical"),
        ("poison_screen", "high", "likely", "high"),
        ("adversarial_accuracy", "medium", "likely", "medium"),
    ]
    scan = failing[0]
    assert scan.techniques == ("AML.T0011.000",) and scan.mitigations == ("AML.M0014", "AML.M0016")
    assert scan.control == MODEL_DEPLOYMENT and "safetensors" in scan.remediation
    doc = store.root / PIPELINE / "run-2" / "check.model_scan.json"
    assert scan.evidence == __import__("hashlib").sha256(doc.read_bytes()).hexdigest()
    assert scan.evidence_path == "patients/run-2/check.model_scan.json"

    assert report.verdict == "blocked"
    assert report.headline.startswith("BLOCKED: 3 of 9 controls failed; highest risk CRITICAL")
    risk, coverage = report.gate
    assert (risk.check, risk.passed, risk.value, risk.threshold) == (RISK_ACCEPTANCE, False, "critical", "medium")
    assert "model_scan (critical)" in risk.detail and "poison_screen (high)" in risk.detail
    assert "adversarial_accuracy" not in risk.detail  # medium is within the accepted risk
    assert coverage.check == FRAMEWORK_COVERAGE and coverage.passed


def test_accepted_risk_gives_review_and_policy_severity_override(store):
    _record_run(store, "run-3", _failing_outcomes())
    lenient = ReportPolicy(max_risk_level="critical")
    assert _report(store, "run-3", lenient).verdict == "review"
    # the policy may raise a technique's severity: evasion becomes critical -> likely x critical
    strict = ReportPolicy(max_risk_level="critical", severity={"AML.T0015": "critical"})
    adv = next(f for f in _report(store, "run-3", strict).findings if f.check == "adversarial_accuracy")
    assert (adv.severity, adv.risk) == ("critical", "critical")


def test_coverage_gate_fails_when_evidence_covers_too_few_areas(store):
    only_data = [o for o in _clean_outcomes() if o.control == DATA_PROCESSING]
    _record_run(store, "run-4", only_data)
    report = _report(store, "run-4")
    assert report.verdict == "blocked" and "covers 1 of 7 framework areas" in report.headline
    assert not report.gate[1].passed and report.gate[1].value == pytest.approx(1 / 7, abs=1e-3)


def test_run_without_any_check_is_blocked(store):
    store.write(PIPELINE, "run-5", "raw_data", {"sha256": "a" * 64})
    report = _report(store, "run-5")
    assert report.verdict == "blocked" and "no control outcomes" in report.headline
    assert len([g for g in report.gaps if g.kind == "control area"]) == 7


def test_evaluate_recomputes_the_gate_from_the_json_not_the_recorded_verdict(store):
    _record_run(store, "run-6", _failing_outcomes())
    report = _report(store, "run-6")
    body = json.loads(json.dumps(report.to_dict()))
    body["verdict"], body["headline"] = "clear", "CLEAR: all good"
    assert evaluate(body, ReportPolicy()) == list(report.gate)
    with pytest.raises(EvidenceError, match="malformed findings"):
        evaluate({"run_id": "x", "findings": [{"check": "a"}]}, ReportPolicy())


def test_bad_evidence_is_refused_with_the_file_named(store):
    _record_run(store, "run-7", _clean_outcomes())
    path = store.root / PIPELINE / "run-7" / "check.model_scan.json"
    path.write_bytes(path.read_bytes().replace(b'"passed":true', b'"passed":false'))
    with pytest.raises(EvidenceError, match="check.model_scan.json was altered"):
        collect_run(store, PIPELINE, "run-7")

    store.write(PIPELINE, "run-8", "check.training", {**_clean_outcomes()[4].to_dict(), "control": "training"})
    with pytest.raises(EvidenceError, match=r"check.training.json: control area 'training' is not one"):
        collect_run(store, PIPELINE, "run-8")
    store.write(PIPELINE, "run-9", "check.poison", {**_clean_outcomes()[3].to_dict(), "atlas": "T0020"})
    with pytest.raises(EvidenceError, match=r"check.poison.json: ATLAS technique 'T0020' is malformed"):
        collect_run(store, PIPELINE, "run-9")
    with pytest.raises(EvidenceError, match="no runs of pipeline 'digits'"):
        collect_run(store, "digits")


# ---------------------------------------------------------------- posture over time

def test_trend_uses_previous_runs_recorded_summaries_and_check_documents(store):
    _record_run(store, "run-a", _clean_outcomes())                   # no report recorded: summarized from checks
    _record_run(store, "run-b", _failing_outcomes())
    report_b = _report(store, "run-b")
    store.write(PIPELINE, "run-b", REPORT_STEP, report_b.to_dict())  # recorded summary
    _record_run(store, "run-c", _clean_outcomes()[:5])                # this run: fewer controls

    report = _report(store, "run-c")
    assert [(t.run_id, t.passed, t.failed, t.highest_risk) for t in report.trend] == [
        ("run-a", 9, 0, "none"), ("run-b", 6, 3, "critical"), ("run-c", 5, 0, "none")]
    assert report.trend[1] == report_b.posture
    # the report's own documents never count as evidence of the run they describe
    assert REPORT_STEP not in {d.step for d in collect_run(store, PIPELINE, "run-b").documents}
    assert len(_report(store, "run-c", ReportPolicy(history_runs=1)).trend) == 2


# ---------------------------------------------------------------- the files

class _Refs(HTMLParser):
    URL_ATTRS = {"src", "href", "action", "srcset", "poster", "data", "formaction", "background", "xlink:href"}

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.refs += [value or "" for name, value in attrs if name in self.URL_ATTRS]


def _assert_self_contained(html: str) -> None:
    parser = _Refs()
    parser.feed(html)
    assert parser.refs, "the report should embed its plots"
    assert all(ref.startswith("data:image/png;base64,") for ref in parser.refs), parser.refs
    assert not parser.tags & {"script", "link", "iframe", "object", "embed", "base", "frame", "audio", "video"}
    assert not re.search(r"(?i)\b(https?|ftp|file):|@import|url\(", html)
    assert "default-src 'none'" in html


def test_files_are_self_contained_html_valid_sarif_json_and_markdown(store, tmp_path):
    _record_run(store, "run-1", _clean_outcomes())
    _record_run(store, "run-2", _failing_outcomes())
    report = _report(store, "run-2")
    files = write_report(report, tmp_path / "out")

    html = files.html.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert html.index("BLOCKED: 3 of 9 controls failed") < html.index('id="findings"') < html.index('id="gaps"')
    assert "AML.T0011.000" in html and "incident management" in html

    sarif = json.loads(files.sarif.read_text(encoding="utf-8"))
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(sarif)
    run = sarif["runs"][0]
    assert sorted(r["name"] for r in run["tool"]["driver"]["rules"]) == sorted(o.check for o in _clean_outcomes())
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["mlsecops/model_scan"]["level"] == "error" and by_rule["mlsecops/model_scan"]["kind"] == "fail"
    assert by_rule["mlsecops/adversarial_accuracy"]["level"] == "warning"
    assert by_rule["mlsecops/test_accuracy"]["kind"] == "pass"
    assert by_rule["mlsecops/model_scan"]["taxa"] == [{"id": "AML.T0011.000", "toolComponent": {"name": "MITRE ATLAS"}}]

    body = json.loads(files.json.read_text(encoding="utf-8"))
    assert body["schema"] == "mlsecops.risk_report/v1" and body["verdict"] == "blocked"
    assert evaluate(body, ReportPolicy()) == list(report.gate)

    md = files.markdown.read_text(encoding="utf-8")
    assert md.startswith("**BLOCKED: 3 of 9 controls failed")
    assert "| critical | model_scan | model deployment | AML.T0011.000 | 1 vs 0 |" in md
    assert "Trend (last 2 runs, oldest first): passed 9/9 → 6/9" in md


def test_invalid_sarif_is_refused_by_the_shipped_schema():
    from mlsecops.controls.report.render import validate_sarif

    with pytest.raises(ReportError, match="not valid SARIF 2.1.0"):
        validate_sarif({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]})  # driver needs a name


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium); "
                                             "the headless screenshot of the HTML report needs it")
@pytest.mark.parametrize(("outcomes", "banner_rgb"), [
    (_failing_outcomes, (185, 28, 28)),   # blocked: red banner
    (_clean_outcomes, (21, 128, 61)),     # clear: green banner
], ids=["blocked", "clear"])
def test_headless_browser_shows_the_verdict_first(store, tmp_path, outcomes, banner_rgb):
    from PIL import Image

    _record_run(store, "run-1", _clean_outcomes())
    _record_run(store, "run-2", outcomes())
    files = write_report(_report(store, "run-2"), tmp_path / "out")
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--hide-scrollbars", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900", f"--screenshot={shot}",
         files.html.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 900)
    # the verdict banner is what a release manager sees first: within the top 200 px, full width
    top = image.crop((0, 0, 1280, 200))
    banner = sum(1 for px in top.getdata() if all(abs(a - b) <= 6 for a, b in zip(px, banner_rgb)))
    assert banner > 1280 * 200 * 0.2, f"only {banner} banner-coloured pixels in the top 200 px"
    # below the fold the page is not blank: tables and plots rendered
    assert len(set(image.crop((0, 200, 1280, 900)).getdata())) > 50


def test_ensure_report_builds_a_blocked_runs_report_from_evidence_then_locates_it(store, tmp_path):
    from mlsecops.core.home import Home
    from mlsecops.stages.risk_report import ensure_report

    home = Home(tmp_path / "home")
    _record_run(store, "run-1", _failing_outcomes())  # a run stopped by its failing controls: no report asset
    built = ensure_report(home, PIPELINE)
    assert (built.built, built.verdict, built.run_id) == (True, "blocked", "run-1")
    assert built.html == home.root / "reports" / PIPELINE / "run-1" / "risk_report.html"
    again = ensure_report(home, PIPELINE)
    assert (again.built, again.headline) == (False, built.headline)
    with pytest.raises(ReportError, match="no runs of pipeline 'digits'"):
        ensure_report(home, "digits")


@pytest.mark.parametrize("text, note", [
    ("M0016 vulnerability scanning, M0014 verify ML artifacts: ship weights as safetensors", "ship weights as safetensors"),
    ("M0013 code signing, M0025 dataset provenance", None),   # only restates the Mitigations column
    ("AML.M0007", None),
    ("separation of duty", "separation of duty"),
])
def test_a_mitigation_note_shows_only_what_the_ids_do_not_say(text, note) -> None:
    from mlsecops.controls.report.report import _mitigation_note

    assert _mitigation_note(text) == note
