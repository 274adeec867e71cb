"""Dagster sensors: promote a pipeline's candidate as soon as the approvals the policy asks for are filed.

    sensors = [build_approval_sensor(spec) for spec in PIPELINES.values()]

The sensor only looks: it judges the filed approvals with the same control the promotion uses and,
when they suffice, requests a run of `<pipeline>/promotion`, which re-verifies everything itself.
The run key names the model, the evidence set and the approvals, so each approval set triggers once.
"""

from __future__ import annotations

import dagster as dg

from mlsecops.trust.signer import PayloadSigner
from mlsecops.controls.release.approvals import review_approvals
from mlsecops.trust.keyring import KeyRing
from mlsecops.core.errors import MlsecopsError
from mlsecops.core.evidence import EvidenceStore
from mlsecops.stages.promotion import approvals_evidence
from mlsecops.stages.framework import EvidenceView, PipelineSpec
from mlsecops.resources import MlsecopsResource


def build_approval_sensor(spec: PipelineSpec) -> dg.SensorDefinition:
    promotion = dg.AssetKey([spec.name, "promotion"])

    @dg.sensor(name=f"{spec.name}_approval_sensor", asset_selection=[promotion], minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Runs {spec.name}/promotion when valid approvals of the candidate model are filed.")
    def _sensor(context: dg.SensorEvaluationContext, mlsecops: MlsecopsResource) -> dg.RunRequest | dg.SkipReason:
        home = mlsecops.home_dirs()
        view = EvidenceView(spec, EvidenceStore(home.evidence), KeyRing(home.keys))
        try:
            evidence = approvals_evidence(view, home.approvals)
        except MlsecopsError as exc:
            return dg.SkipReason(f"no candidate model: {exc}")
        review = review_approvals(evidence, mlsecops.policy(spec.name).approvals, PayloadSigner(home.keys))
        model = evidence["model_sha256"]
        if not review.passed:
            return dg.SkipReason(f"model {model[:12]}… awaits approval: {len(review.identities)} of "
                                 f"{review.required} valid, missing roles {list(review.missing_roles)}")
        ids = ",".join(sorted(v.approval_id for v in review.accepted))
        return dg.RunRequest(run_key=f"{model}:{evidence['evidence_sha256']}:{ids}", asset_selection=[promotion],
                             tags={"mlsecops/model_sha256": model,
                                   "mlsecops/approved_by": ",".join(review.identities)})

    return _sensor
