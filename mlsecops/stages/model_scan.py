"""`model_scan`: content-based format allowlist and scanners over the model folder, before signing."""

from __future__ import annotations

from pathlib import Path

from mlsecops.checks.model import ARTIFACT_SAFE
from mlsecops.controls.model.scanning.scan import scan_path
from mlsecops.stages.framework import Stage, StageContext, StageResult


def _model_scan(ctx: StageContext) -> StageResult:
    model = ctx.upstream("trained_model").data["model"]
    report = scan_path(Path(model["path"]), ctx.policy.scanning, progress=lambda rel: ctx.log.info(f"scanning {rel}"))
    formats = sorted({f.format for f in report.files})
    summary = (f"{len(report.files)} files ({', '.join(formats)}), no findings" if report.safe
               else f"UNSAFE: {len(report.reasons)} reason(s): {report.reasons[0]}")
    return StageResult({"model": {"path": model["path"], "sha256": model["sha256"]}, "scan": report.to_dict()},
                       summary=summary,
                       metadata={"files": len(report.files), "formats": ", ".join(formats),
                                 "blocked_files": sum(f.blocked for f in report.files),
                                 "scanners": report.scanners, "scanned_sha256": report.digest})


MODEL_SCAN = Stage("model_scan", "Content-based format allowlist + picklescan, fickling and modelscan over the "
                   "model folder, before anything signs it.", ("trained_model",), _model_scan,
                   (ARTIFACT_SAFE,),
                   kinds=("modelscan",))
