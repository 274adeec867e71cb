"""Shared fixtures: an isolated MLSECOPS_HOME with a real Dagster instance and MLflow on sqlite."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@dataclass
class Env:
    """One project home: run jobs (or a subset of assets) through Dagster, read MLflow and evidence."""

    home: "Home"
    defs: dg.Definitions
    instance: dg.DagsterInstance

    def run(self, pipeline: str, steps: list[str] | None = None) -> dg.ExecuteInProcessResult:
        job = self.defs.resolve_job_def(f"{pipeline}_pipeline")
        selection = [dg.AssetKey([pipeline, s]) for s in steps] if steps else None
        return job.execute_in_process(instance=self.instance, raise_on_error=False, asset_selection=selection)

    def tracker(self):
        from mlsecops.core.tracking import Tracker
        return Tracker(self.home.mlflow_uri, self.home.root / "mlartifacts")

    def store(self):
        from mlsecops.core.evidence import EvidenceStore
        return EvidenceStore(self.home.evidence)


def make_env(root: Path, policy_path: str = "", seed_sources: bool = True) -> Env:
    from mlsecops.definitions import build_definitions
    from mlsecops.core.home import Home
    from mlsecops.resources import MlflowResource, MlsecopsResource

    home = Home(root.resolve()).ensure()
    defs = build_definitions(MlsecopsResource(home=str(home.root), policy_path=policy_path, seed_sources=seed_sources),
                             MlflowResource(tracking_uri=home.mlflow_uri))
    instance_dir = root / "dagster-instance"
    instance_dir.mkdir(parents=True, exist_ok=True)
    return Env(home, defs, dg.DagsterInstance.local_temp(str(instance_dir)))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.setenv("MLSECOPS_HOME", str(tmp_path / "home"))
    return make_env(tmp_path / "home")


def step_failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """step name -> the one-line error message of each failed step."""
    out = {}
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            err = ev.step_failure_data.error
            cause = err.cause or err
            out[ev.step_key.split("__", 1)[1]] = cause.message.strip()
    return out


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {ev.event_specific_data.check_name: ev.event_specific_data.passed
            for ev in result.all_events if ev.event_type_value == "ASSET_CHECK_EVALUATION"}


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {ev.asset_key.path[-1] for ev in result.all_events if ev.event_type_value == "ASSET_MATERIALIZATION"}


def approve(env: Env, pipeline: str, identity: str = "demo-approver", role: str = "release-manager",
            model: str | None = None, hours: float = 24.0) -> Path:
    """File a signed approval of the pipeline's current candidate (or of `model`), as `make run` does."""
    from datetime import timedelta

    from mlsecops.trust.signer import PayloadSigner
    from mlsecops.controls.release.approvals import save_approval, sign_approval
    from mlsecops.trust.keyring import KeyRing
    from mlsecops.stages.promotion import candidate
    from mlsecops.pipelines.registry import get_pipeline
    from mlsecops.stages.framework import EvidenceView

    cand = candidate(EvidenceView(get_pipeline(pipeline), env.store(), KeyRing(env.home.keys)))
    approval = sign_approval(PayloadSigner(env.home.keys), pipeline=pipeline, model_sha256=model or cand["model_sha256"],
                             evidence_sha256=cand["evidence_sha256"], identity=identity, role=role,
                             valid_for=timedelta(hours=hours))
    return save_approval(env.home.approvals, approval)


def _pre_promotion() -> list[str]:
    from mlsecops.stages.chain import standard_stages
    return [s.name for s in standard_stages() if s.name != "promotion"]


PRE_PROMOTION = _pre_promotion()  # every stage before promotion, in order
