"""The risk_report asset through Dagster: Markdown metadata, blocking report checks, CLI, promotion re-check."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import dagster as dg
import jsonschema
from typer.testing import CliRunner

from mlsecops.cli import app
from mlsecops.controls._report_render import SARIF_SCHEMA_PATH
from mlsecops.definitions import build_definitions
from mlsecops.evidence import EvidenceStore
from mlsecops.fileio import sha256_file
from mlsecops.home import Home
from mlsecops.pipelines.patients import PATIENTS
from mlsecops.pipelines.promotion import reverify_checks
from mlsecops.resources import MlflowResource, MlsecopsResource
from mlsecops.runner import run_pipeline


def test_patients_run_writes_the_report_before_promotion_and_the_cli_finds_it(tmp_path, monkeypatch):
    home = Home(tmp_path / "home")
    monkeypatch.setenv("MLSECOPS_HOME", str(home.root))
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster))
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    monkeypatch.delenv("MLSECOPS_POLICY", raising=False)
    home.ensure()
    summary = run_pipeline("patients", home, build_definitions(MlsecopsResource(home=str(home.root))))
    rows = {step: (state, checks) for step, state, checks, _ in summary.rows}
    assert summary.success, summary.errors
    state, checks = rows["risk_report"]
    assert state == "ok" and set(checks.split(", ")) == {"✔ report_risk_acceptance", "✔ report_framework_coverage"}
    assert rows["promotion"][0] == "ok"

    # the asset's Markdown summary is what the Dagster UI shows
    event = dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey(["patients", "risk_report"]))
    metadata = event.asset_materialization.metadata
    assert isinstance(metadata["report"], dg.MarkdownMetadataValue)
    assert metadata["report"].value.startswith("**CLEAR: all 3 controls passed**")
    assert metadata["verdict"].value == "clear"

    # evidence: every control of the run is a finding; the SARIF validates
    doc = EvidenceStore(home.evidence).latest("patients", "risk_report")
    assert doc.ref.run_id == summary.run_id
    assert {f["check"] for f in doc.data["findings"]} == {"validation_suite", "model_quality", "signature_verifies"}
    sarif_file = doc.data["files"]["risk_report.sarif"]
    assert sha256_file(Path(sarif_file["path"])) == sarif_file["sha256"]
    sarif = json.loads(Path(sarif_file["path"]).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(json.loads(SARIF_SCHEMA_PATH.read_text(encoding="utf-8"))).validate(sarif)

    runner = CliRunner()
    located = runner.invoke(app, ["report", "--pipeline", "patients"])
    assert located.exit_code == 0, located.output
    assert "written by the pipeline" in located.output and "CLEAR: all 3 controls passed" in located.output

    # a stricter policy: the CLI rebuilds from the same evidence, and promotion's own re-check refuses
    strict = tmp_path / "strict.yaml"
    strict.write_text("version: 1\nreport:\n  min_area_coverage: 0.9\n", encoding="utf-8")
    monkeypatch.setenv("MLSECOPS_POLICY", str(strict))
    rebuilt = runner.invoke(app, ["report", "-p", "patients", "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "built from the evidence" in rebuilt.output
    assert "BLOCKED: evidence covers 3 of 7 framework areas; the policy requires 90%" in rebuilt.output
    assert sha256_file(Path(sarif_file["path"])) == sarif_file["sha256"]  # the asset's files stay untouched
    ctx = MlsecopsResource(home=str(home.root), policy_path=str(strict)).stage_context(
        PATIENTS, "recheck", MlflowResource(), logging.getLogger("test"))
    _, reasons = reverify_checks(ctx)
    assert any("risk_report/report_framework_coverage fails" in r for r in reasons), reasons
