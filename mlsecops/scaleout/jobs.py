"""Run the reference pipelines on the scale-out profile: Postgres instance, MLflow server, Dask executor.

    with ScaledServices.start(home) as svc:
        summaries = run_concurrently(["patients", "digits"], Target.of(svc))   # {name: RunSummary}
        approve_candidate(Target.of(svc), "patients")                        # a non-trainer approves
        run_concurrently(["patients"], Target.of(svc), steps=["promotion"])  # re-verify + move the alias

Each run is an orchestrator process (`python -m mlsecops.scaleout.jobs PIPELINE`) that executes the
embedded job with the Dask executor (mlsecops.assets.executors); a worker needs only the code and
the Postgres URL.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from mlsecops.assets.executors import Target, open_instance, run_scaled
from mlsecops.assets.launch import RunSummary
from mlsecops.core.errors import MlsecopsError
from mlsecops.core.home import Home
from mlsecops.pipelines.registry import get_pipeline
from mlsecops.scaleout.services import REPO_ROOT, service_env


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

    from mlsecops.cli.release import approve
    from mlsecops.trust.keyring import KeyRing
    from mlsecops.core.evidence import EvidenceStore
    from mlsecops.stages.promotion import candidate
    from mlsecops.stages.framework import EvidenceView

    home = Home(target.home)
    model = candidate(EvidenceView(get_pipeline(pipeline), EvidenceStore(home.evidence), KeyRing(home.keys)))["model_sha256"]
    env = {"MLSECOPS_HOME": str(home.root), "MLSECOPS_AUDIT_URL": target.audit_url}
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v for k, v in env.items() if v})
    for k in [k for k, v in env.items() if not v]:
        os.environ.pop(k, None)
    try:
        approve(pipeline=pipeline, model=model, identity=identity, role=None, comment=comment, hours=None)
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
