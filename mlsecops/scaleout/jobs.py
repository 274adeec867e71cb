"""Run the reference pipelines on the scale-out profile: Postgres instance, MLflow server, Dask executor.

    with ScaledServices.start(home) as svc:
        summaries = run_concurrently(["patients", "digits"], Target.of(svc))   # {name: RunSummary}
        approve_candidate(Target.of(svc), "patients")                        # a non-trainer approves
        run_concurrently(["patients"], Target.of(svc), steps=["promotion"])  # re-verify + move the alias

The jobs are the embedded ones (same assets, checks and promotion) with the `dagster-dask` executor
attached; every step runs on a Dask worker, which loads the job from its code pointer and writes its
events to the Postgres instance. Resources reach the workers through run config, so a worker needs
only the code and the Postgres URL.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dask import dask_executor

from mlsecops.definitions import build_definitions
from mlsecops.errors import MlsecopsError
from mlsecops.home import Home
from mlsecops.runner import QUIET, RunSummary, summarize
from mlsecops.pipelines.registry import get_pipeline
from mlsecops.scaleout.services import REPO_ROOT, ScaledServices, service_env

INSTANCE_YAML = REPO_ROOT / "infra" / "dagster.yaml"


def scaled_definitions() -> dg.Definitions:
    return build_definitions(executor=dask_executor)


def scaled_job(pipeline: str) -> dg.JobDefinition:
    """Module-level reconstructor: what each Dask worker calls to load the job."""
    return scaled_definitions().resolve_job_def(f"{pipeline}_pipeline")


def reconstructable_job(pipeline: str):
    get_pipeline(pipeline)
    return dg.build_reconstructable_job("mlsecops.scaleout.jobs", "scaled_job", reconstructable_args=(pipeline,),
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
    def of(cls, svc: ScaledServices) -> "Target":
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


def launch(pipeline: str, target: Target, log: Path, steps: list[str] | None = None) -> subprocess.Popen:
    """Start one run in its own orchestrator process (as Dagster's run launchers do): Dagster's
    logging setup is not thread-safe, so concurrent runs in threads of one process can deadlock."""
    get_pipeline(pipeline)
    handle = log.open("wb")
    try:
        return subprocess.Popen([sys.executable, "-m", "mlsecops.scaleout.jobs", pipeline, *(steps or [])], stdout=subprocess.PIPE,
                                stderr=handle, env=service_env(target.to_env()), cwd=REPO_ROOT)
    finally:
        handle.close()


def collect(proc: subprocess.Popen, pipeline: str, log: Path) -> RunSummary:
    out, _ = proc.communicate()
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        return RunSummary(**json.loads(lines[-1]))
    except (IndexError, json.JSONDecodeError, TypeError):
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        return RunSummary(pipeline, "", False, [], [f"{pipeline}: orchestrator exited {proc.returncode}: {tail}"])


def run_concurrently(pipelines: list[str], target: Target, steps: list[str] | None = None) -> dict[str, RunSummary]:
    """Launch one run per pipeline at the same time and wait for all of them."""
    open_instance(target).dispose()  # create the Postgres schema once, before concurrent runs
    logs = target.home / "scaled-logs"
    logs.mkdir(parents=True, exist_ok=True)
    tag = "-".join(steps or ["all"])
    procs = {name: launch(name, target, logs / f"run-{name}-{tag}.log", steps) for name in pipelines}
    return {name: collect(proc, name, logs / f"run-{name}-{tag}.log") for name, proc in procs.items()}


def approve_candidate(target: Target, pipeline: str, identity: str = "demo-approver",
                      comment: str = "scale-out DEMO approval") -> str:
    """`mlsecops approve` of the pipeline's current candidate, as `make run` does; returns the model digest."""
    import typer

    from mlsecops import cli
    from mlsecops.controls.signing import KeyRing
    from mlsecops.evidence import EvidenceStore
    from mlsecops.pipelines.promotion import candidate
    from mlsecops.pipelines.spec import EvidenceView

    home = Home(target.home)
    model = candidate(EvidenceView(get_pipeline(pipeline), EvidenceStore(home.evidence), KeyRing(home.keys)))["model_sha256"]
    env = {"MLSECOPS_HOME": str(home.root), "MLSECOPS_AUDIT_URL": target.audit_url}
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v for k, v in env.items() if v})
    for k in [k for k, v in env.items() if not v]:
        os.environ.pop(k, None)
    try:
        cli.approve(pipeline=pipeline, model=model, identity=identity, role=None, comment=comment, hours=None)
    except typer.Exit as exc:
        raise MlsecopsError(f"approval of {pipeline} model {model[:12]}… by '{identity}' failed ({exc.exit_code})")
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return model


def main(argv: list[str]) -> int:
    """`python -m mlsecops.scaleout.jobs PIPELINE [STEP...]`: one scaled run; last stdout line = summary JSON."""
    summary = run_scaled(argv[0], Target.from_env(), argv[1:] or None)
    print(json.dumps(dataclasses.asdict(summary)))
    return 0 if summary.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
