"""Executors: the embedded jobs with the `dagster-dask` executor on a Postgres-backed instance (scale-out).

    summary = run_scaled("patients", Target.from_env())     # steps run on the Dask workers

The jobs are the embedded ones (same assets, checks and promotion); every step runs on a Dask
worker, which loads the job from its code pointer (`scaled_job` here) and writes its events to the
Postgres instance. Resources reach the workers through run config. The services themselves are
started by mlsecops.scaleout.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_dask import dask_executor

from mlsecops.assets.definitions import build_definitions
from mlsecops.assets.launch import QUIET, RunSummary, summarize
from mlsecops.core.errors import MlsecopsError
from mlsecops.core.home import Home
from mlsecops.pipelines.registry import get_pipeline

if TYPE_CHECKING:
    from mlsecops.scaleout.services import ScaledServices

REPO_ROOT = Path(__file__).resolve().parents[2]

INSTANCE_YAML = REPO_ROOT / "infra" / "dagster.yaml"


def scaled_definitions() -> dg.Definitions:
    return build_definitions(executor=dask_executor)


def scaled_job(pipeline: str) -> dg.JobDefinition:
    """Module-level reconstructor: what each Dask worker calls to load the job."""
    return scaled_definitions().resolve_job_def(f"{pipeline}_pipeline")


def reconstructable_job(pipeline: str):
    get_pipeline(pipeline)
    return dg.build_reconstructable_job("mlsecops.assets.executors", "scaled_job", reconstructable_args=(pipeline,),
                                        reconstructor_working_directory=str(REPO_ROOT))


@dataclass(frozen=True)
class Target:
    """Where a scaled run goes: the services' addresses and the shared MLSECOPS_HOME (passed as env)."""

    home: Path
    dagster_pg_url: str
    mlflow_uri: str
    scheduler_address: str
    audit_url: str = ""

    @classmethod
    def of(cls, svc: "ScaledServices") -> "Target":
        return cls(svc.home.root, svc.dagster_pg_url, svc.mlflow_uri, svc.scheduler_address, svc.audit_url)

    def to_env(self) -> dict[str, str]:
        return {"MLSECOPS_HOME": str(self.home), "MLSECOPS_DAGSTER_PG_URL": self.dagster_pg_url,
                "MLFLOW_TRACKING_URI": self.mlflow_uri, "MLSECOPS_DASK_ADDRESS": self.scheduler_address,
                "MLSECOPS_AUDIT_URL": self.audit_url}

    @classmethod
    def from_env(cls) -> "Target":
        missing = [k for k in ("MLSECOPS_HOME", "MLSECOPS_DAGSTER_PG_URL", "MLFLOW_TRACKING_URI",
                               "MLSECOPS_DASK_ADDRESS") if not os.environ.get(k)]
        if missing:
            raise MlsecopsError(f"scaled run needs {', '.join(missing)} in the environment (set by "
                                f"`python -m mlsecops.scaleout`, or by your deployment)")
        return cls(Path(os.environ["MLSECOPS_HOME"]), os.environ["MLSECOPS_DAGSTER_PG_URL"],
                   os.environ["MLFLOW_TRACKING_URI"], os.environ["MLSECOPS_DASK_ADDRESS"],
                   os.environ.get("MLSECOPS_AUDIT_URL", ""))


def open_instance(target: Target) -> dg.DagsterInstance:
    """The Postgres-backed instance: infra/dagster.yaml copied to MLSECOPS_HOME/dagster-scaled."""
    folder = target.home / "dagster-scaled"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INSTANCE_YAML, folder / "dagster.yaml")
    os.environ["MLSECOPS_DAGSTER_PG_URL"] = target.dagster_pg_url  # read by infra/dagster.yaml
    return dg.DagsterInstance.from_config(str(folder))


def run_config(target: Target) -> dict[str, Any]:
    return {"execution": {"config": {"cluster": {"existing": {"address": target.scheduler_address}}}},
            "resources": {"mlsecops": {"config": {"home": str(target.home)}},
                          "mlflow": {"config": {"tracking_uri": target.mlflow_uri}}},
            **QUIET}


def run_scaled(pipeline: str, target: Target, steps: list[str] | None = None) -> RunSummary:
    """Execute one pipeline's job (or some of its steps) in this process with the steps on the Dask workers."""
    spec = get_pipeline(pipeline)
    home = Home(target.home).ensure()
    selection = [dg.AssetKey([pipeline, s]) for s in steps] if steps else None
    with open_instance(target) as instance:
        result = dg.execute_job(reconstructable_job(pipeline), instance=instance, run_config=run_config(target),
                                raise_on_error=False, asset_selection=selection)
        summary = summarize(pipeline, result, home, [s.name for s in spec.stages])
        if not result.success and not summary.errors and not summary.awaiting_approval:
            summary.errors.append(f"{pipeline}: run {result.run_id} failed: {_run_failure(result)}")
        return summary


def _run_failure(result: dg.ExecutionResult) -> str:
    for ev in result.all_events:
        if ev.event_type_value in ("RUN_FAILURE", "PIPELINE_FAILURE") and ev.message:
            return ev.message.strip().splitlines()[-1]
    return "see the Dagster event log"
