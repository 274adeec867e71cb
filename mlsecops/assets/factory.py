"""Turn a PipelineSpec into Dagster assets, blocking asset checks and a job.

    assets, checks, job = build_pipeline(PATIENTS)

Assets return `MaterializeResult` (metadata only): artifacts are written by the stages
themselves, so nothing goes through Dagster's pickling IO manager.
"""


from pathlib import Path
from typing import Any

import dagster as dg

from mlsecops.controls.outcome import CheckOutcome
from mlsecops.pipelines.spec import CheckSpec, Markdown, PipelineSpec, Stage
from mlsecops.resources import MlflowResource, MlsecopsResource


def asset_key(spec: PipelineSpec, step: str) -> dg.AssetKey:
    return dg.AssetKey([spec.name, step])


def _metadata_value(value: Any) -> Any:
    if isinstance(value, Markdown):
        return dg.MetadataValue.md(value.text)
    if isinstance(value, Path):
        return dg.MetadataValue.path(str(value))
    if isinstance(value, (dict, list)):
        return dg.MetadataValue.json(value)
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def _build_asset(spec: PipelineSpec, stage: Stage) -> dg.AssetsDefinition:
    @dg.asset(key=asset_key(spec, stage.name), deps=[asset_key(spec, d) for d in stage.deps],
              group_name=spec.name, description=stage.description, kinds=set(stage.kinds) or None)
    def _asset(context: dg.AssetExecutionContext, mlsecops: MlsecopsResource,
               mlflow: MlflowResource) -> dg.MaterializeResult:
        ctx = mlsecops.stage_context(spec, context.run_id, mlflow, context.log)
        result = stage.run(ctx)
        ref = ctx.record(stage, result)
        context.log.info(f"{spec.name}/{stage.name}: {result.summary}")
        metadata = {k: _metadata_value(v) for k, v in result.metadata.items()}
        return dg.MaterializeResult(metadata={
            **metadata, "summary": result.summary, "evidence_sha256": ref.sha256,
            "evidence": dg.MetadataValue.path(str(ref.path)), "policy_sha256": ctx.policy.digest})

    return _asset


def check_metadata(outcome: CheckOutcome, evidence_sha256: str) -> dict[str, Any]:
    """What a check shows in the UI: measured value, threshold, policy key, control, ATLAS id."""
    return {"value": _metadata_value(outcome.value), "threshold": _metadata_value(outcome.threshold),
            "policy_key": outcome.policy_key, "control": outcome.control, "atlas": outcome.atlas or "n/a",
            "mitigation": outcome.mitigation or "n/a", "detail": outcome.detail, "evidence": evidence_sha256}


def _build_check(spec: PipelineSpec, stage: Stage, check: CheckSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset_key(spec, stage.name), name=check.name, blocking=True,
                    description=check.description)
    def _check(context: dg.AssetCheckExecutionContext, mlsecops: MlsecopsResource,
               mlflow: MlflowResource) -> dg.AssetCheckResult:
        ctx = mlsecops.stage_context(spec, context.run.run_id, mlflow, context.log)
        outcome, ref = ctx.run_check(stage, check)
        return dg.AssetCheckResult(passed=outcome.passed, severity=dg.AssetCheckSeverity.ERROR,
                                   metadata=check_metadata(outcome, ref.sha256))

    return _check


def build_pipeline(spec: PipelineSpec) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition], Any]:
    """Assets, blocking checks and the `<name>_pipeline` job for one spec."""
    assets = [_build_asset(spec, stage) for stage in spec.stages]
    checks = [_build_check(spec, stage, check) for stage in spec.stages for check in stage.checks]
    job = dg.define_asset_job(f"{spec.name}_pipeline", selection=dg.AssetSelection.groups(spec.name),
                              description=spec.description)
    return assets, checks, job
