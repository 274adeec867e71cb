"""The risk_report asset through Dagster: Markdown metadata, blocking report checks, CLI, promotion re-check."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import dagster as dg
import jsonschema
from typer.testing import CliRunner

from mlsecops.cli import app
from mlsecops.controls.report.render import SARIF_SCHEMA_PATH
from mlsecops.core.fileio import sha256_file
from mlsecops.pipelines.patients import PATIENTS
from mlsecops.stages.promotion import reverify_checks
from mlsecops.resources import MlflowResource, MlsecopsResource
from tests.conftest import PRE_PROMOTION, Env, check_results, materialized, step_failures


def test_patients_run_writes_the_report_before_promotion_and_the_cli_finds_it(env: Env, tmp_path, monkeypatch):
    monkeypatch.delenv("MLSECOPS_POLICY", raising=False)
    assert PRE_PROMOTION[-1] == "risk_report"
    result = env.run("patients", PRE_PROMOTION)
    assert result.success, step_failures(result)
    assert "risk_report" in materialized(result)
    checks = check_results(result)
    assert checks["report_risk_acceptance"] and checks["report_framework_coverage"]

    # evidence: every control check of the run is a finding; the SARIF file is the one recorded, and valid
    doc = env.store().latest("patients", "risk_report")
    upstream = {c for c in checks if not c.startswith("report_")}
    assert {f["check"] for f in doc.data["findings"]} == upstream
    assert doc.data["verdict"] == "clear" and doc.data["headline"] == f"CLEAR: all {len(upstream)} controls passed"
    sarif_file = doc.data["files"]["risk_report.sarif"]
    assert sha256_file(Path(sarif_file["path"])) == sarif_file["sha256"]
    sarif = json.loads(Path(sarif_file["path"]).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(json.loads(SARIF_SCHEMA_PATH.read_text(encoding="utf-8"))).validate(sarif)
    assert len(sarif["runs"][0]["tool"]["driver"]["rules"]) == len(upstream)

    # the asset's Markdown summary is what the Dagster UI shows
    event = env.instance.get_latest_materialization_event(dg.AssetKey(["patients", "risk_report"]))
    metadata = event.asset_materialization.metadata
    assert isinstance(metadata["report"], dg.MarkdownMetadataValue)
    assert metadata["report"].value.startswith(f"**{doc.data['headline']}**")
    assert metadata["verdict"].value == "clear"

    runner = CliRunner()
    located = runner.invoke(app, ["report", "--pipeline", "patients"])
    assert located.exit_code == 0, located.output
    assert "written by the pipeline" in located.output and doc.data["headline"] in located.output

    # a stricter policy: the CLI rebuilds from the same evidence, and promotion's own re-check refuses
    covered = doc.data["posture"]["areas_covered"]
    strict = tmp_path / "strict.yaml"
    strict.write_text("version: 1\nreport:\n  min_area_coverage: 1.0\n", encoding="utf-8")
    monkeypatch.setenv("MLSECOPS_POLICY", str(strict))
    rebuilt = runner.invoke(app, ["report", "-p", "patients", "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "built from the evidence" in rebuilt.output
    assert f"BLOCKED: evidence covers {covered} of 7 framework areas; the policy requires 100%" in rebuilt.output
    assert sha256_file(Path(sarif_file["path"])) == sarif_file["sha256"]  # the asset's files stay untouched
    ctx = MlsecopsResource(home=str(env.home.root), policy_path=str(strict)).stage_context(
        PATIENTS, "recheck", MlflowResource(tracking_uri=env.home.mlflow_uri), logging.getLogger("test"))
    _, reasons = reverify_checks(ctx)
    assert any("risk_report/report_framework_coverage fails" in r for r in reasons), reasons
