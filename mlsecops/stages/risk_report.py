"""The `risk_report` stage: assess the run's evidence just before promotion.

    stage = risk_report_stage(after="signed_model")     # inserted by standard_stages()
    located = ensure_report(home, "patients")            # CLI: locate, or build from evidence

The report reads only evidence documents, so it covers whatever controls the pipeline has. A run
that a failing control stopped never reaches this asset; `ensure_report` builds its report from
the evidence afterwards (the CLI does so after `mlsecops run` and in `mlsecops report`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlsecops.checks import report as report_checks
from mlsecops.controls.report.report import (
    REPORT_STEP,
    ReportFiles,
    RiskReport,
    build_report,
    collect_run,
    load_history,
    write_report,
)
from mlsecops.core.errors import ReportError
from mlsecops.core.evidence import EvidenceStore
from mlsecops.core.home import Home
from mlsecops.core.outcome import Markdown
from mlsecops.stages.framework import Stage, StageContext, StageResult
from mlsecops.policy import Policy, load_policy
from mlsecops.controls.report.policy import ReportPolicy

FILES = ("risk_report.html", "risk_report.json", "risk_report.sarif", "risk_report.md")


def report_folder(home: Home, pipeline: str, run_id: str) -> Path:
    """Where the pipeline's `risk_report` asset writes (its files are bound to the evidence)."""
    return home.artifacts / pipeline / run_id / REPORT_STEP


def cli_report_folder(home: Home, pipeline: str, run_id: str) -> Path:
    """Where reports built outside the pipeline go (blocked runs, `--rebuild`): never over the asset's."""
    return home.root / "reports" / pipeline / run_id


def assess(store: EvidenceStore, pipeline: str, run_id: str, policy: ReportPolicy,
           folder: Path) -> tuple[RiskReport, ReportFiles]:
    """Build the run's report (with the trend of earlier runs) and write its four files."""
    run = collect_run(store, pipeline, run_id)
    report = build_report(run, load_history(store, run, policy), policy)
    return report, write_report(report, folder)


def _risk_report(ctx: StageContext) -> StageResult:
    folder = ctx.workdir(REPORT_STEP)
    report, written = assess(ctx.store, ctx.spec.name, ctx.run_id, ctx.policy.report, folder)
    files = {name: {"path": str(folder / name), "sha256": written.sha256[name]} for name in FILES}
    for name in FILES:
        ctx.tracker.log_file(ctx.mlflow_run(), folder / name, REPORT_STEP)
    p = report.posture
    markdown = (folder / "risk_report.md").read_text(encoding="utf-8")
    return StageResult(
        {**report.to_dict(), "files": files},
        summary=report.headline,
        metadata={"report": Markdown(markdown), "verdict": report.verdict, "highest_risk": p.highest_risk,
                  "controls_passed": f"{p.passed}/{p.checks}", "areas_covered": f"{p.areas_covered}/{p.areas_total}",
                  "atlas_covered": f"{p.techniques_covered}/{p.techniques_total}",
                  "gaps": len(report.gaps), "html": str(written.html), "sarif": str(written.sarif)})


def risk_report_stage(after: str) -> Stage:
    return Stage(
        REPORT_STEP, "Risk assessment of the run's evidence: findings mapped to the framework and MITRE ATLAS, "
        "gaps, posture trend; HTML, JSON, SARIF 2.1.0 and Markdown.", (after,), _risk_report,
        report_checks.CHECKS,
        kinds=("html", "sarif"))


@dataclass(frozen=True)
class LocatedReport:
    pipeline: str
    run_id: str
    folder: Path
    verdict: str
    headline: str
    built: bool                      # True when this call wrote it

    @property
    def html(self) -> Path:
        return self.folder / "risk_report.html"


def ensure_report(home: Home, pipeline: str, run_id: str | None = None, rebuild: bool = False,
                  policy: Policy | None = None) -> LocatedReport:
    """The report of a run (default: the latest): the pipeline's if it wrote one, else one built from
    the run's evidence under `<MLSECOPS_HOME>/reports/` (rebuilt with the current policy if asked)."""
    store = EvidenceStore(home.evidence)
    run_id = run_id or store.latest_run_id(pipeline)
    if run_id is None:
        raise ReportError(f"no runs of pipeline '{pipeline}' under {store.root}: run `mlsecops run -p {pipeline}` first")
    if not rebuild:
        for folder in (report_folder(home, pipeline, run_id), cli_report_folder(home, pipeline, run_id)):
            if all((folder / name).exists() for name in FILES):
                body = json.loads((folder / "risk_report.json").read_text(encoding="utf-8"))
                return LocatedReport(pipeline, run_id, folder, body["verdict"], body["headline"], built=False)
    policy = policy or load_policy().for_pipeline(pipeline)
    folder = cli_report_folder(home, pipeline, run_id)
    report, _ = assess(store, pipeline, run_id, policy.report, folder)
    return LocatedReport(pipeline, run_id, folder, report.verdict, report.headline, built=True)
