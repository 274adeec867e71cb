"""The Dagster face of the gate catalogue: every CheckSpec becomes a blocking ERROR asset check.

    check_def = build_check(spec, stage, check)      # evaluates check.evaluate, writes check.<name> evidence

A failing ERROR check stops everything downstream in the same run; promotion re-runs the same
`evaluate` itself, because a later run of a downstream asset alone would skip this check.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from mlsecops.checks.spec import CheckSpec
from mlsecops.core.outcome import CheckOutcome, Markdown

if TYPE_CHECKING:
    from mlsecops.stages.framework import PipelineSpec, Stage


def metadata_value(value: Any) -> Any:
    if isinstance(value, Markdown):
        return dg.MetadataValue.md(value.text)
    if isinstance(value, Path):
        return dg.MetadataValue.path(str(value))
    if isinstance(value, (dict, list)):
        return dg.MetadataValue.json(value)
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def check_metadata(outcome: CheckOutcome, evidence_sha256: str) -> dict[str, Any]:
    """What a check shows in the UI: measured value, threshold, policy key, control, ATLAS id."""
    return {"value": metadata_value(outcome.value), "threshold": metadata_value(outcome.threshold),
            "policy_key": outcome.policy_key, "control": outcome.control, "atlas": outcome.atlas or "n/a",
            "mitigation": outcome.mitigation or "n/a", "detail": outcome.detail, "evidence": evidence_sha256}


def build_check(spec: "PipelineSpec", stage: "Stage", check: CheckSpec) -> dg.AssetChecksDefinition:
    """One blocking ERROR asset check on `<pipeline>/<stage>` that evaluates `check` and records it."""
    @dg.asset_check(asset=dg.AssetKey([spec.name, stage.name]), name=check.name, blocking=True,
                    description=check.description, required_resource_keys={"mlsecops", "mlflow"})
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        resources = context.resources
        ctx = resources.mlsecops.stage_context(spec, context.run.run_id, resources.mlflow, context.log)
        outcome, ref = ctx.run_check(stage, check)
        return dg.AssetCheckResult(passed=outcome.passed, severity=dg.AssetCheckSeverity.ERROR,
                                   metadata=check_metadata(outcome, ref.sha256))

    return _check
