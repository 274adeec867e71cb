"""Turn a PipelineSpec into Dagster assets, blocking asset checks and a job.

    assets, checks, job = build_pipeline(PATIENTS)

Assets return `MaterializeResult` (metadata only): artifacts are written by the stages
themselves, so nothing goes through Dagster's pickling IO manager.
"""


from typing import Any

import dagster as dg

from mlsecops.checks.asset_checks import build_check, metadata_value
from mlsecops.stages.framework import PipelineSpec, Stage
from mlsecops.resources import MlflowResource, MlsecopsResource


def asset_key(spec: PipelineSpec, step: str) -> dg.AssetKey:
    return dg.AssetKey([spec.name, step])


def _build_asset(spec: PipelineSpec, stage: Stage) -> dg.AssetsDefinition:
    @dg.asset(key=asset_key(spec, stage.name), deps=[asset_key(spec, d) for d in stage.deps],
              group_name=spec.name, description=stage.description, kinds=set(stage.kinds) or None)
    def _asset(context: dg.AssetExecutionContext, mlsecops: MlsecopsResource,
               mlflow: MlflowResource) -> dg.MaterializeResult:
        ctx = mlsecops.stage_context(spec, context.run_id, mlflow, context.log)
        result = stage.run(ctx)
        ref = ctx.record(stage, result)
        context.log.info(f"{spec.name}/{stage.name}: {result.summary}")
        metadata = {k: metadata_value(v) for k, v in result.metadata.items()}
        return dg.MaterializeResult(metadata={
            **metadata, "summary": result.summary, "evidence_sha256": ref.sha256,
            "evidence": dg.MetadataValue.path(str(ref.path)), "policy_sha256": ctx.policy.digest})

    return _asset


def build_pipeline(spec: PipelineSpec) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition], Any]:
    """Assets, blocking checks and the `<name>_pipeline` job for one spec."""
    assets = [_build_asset(spec, stage) for stage in spec.stages]
    checks = [build_check(spec, stage, check) for stage in spec.stages for check in stage.checks]
    job = dg.define_asset_job(f"{spec.name}_pipeline", selection=dg.AssetSelection.groups(spec.name),
                              description=spec.description)
    return assets, checks, job
