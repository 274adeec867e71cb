"""Run a pipeline's job through Dagster (in process, on the local instance) and summarize it.

    summary = run_pipeline("patients", on_event=print)
    summary.success, summary.rows       # rows: (step, status, key figure)
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Callable

import dagster as dg

from mlsecops.core.home import Home
from mlsecops.pipelines.registry import get_pipeline

# The CLI prints its own summary and one-line reasons; Dagster's console logger stays silent.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class RunSummary:
    pipeline: str
    run_id: str
    success: bool
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    awaiting_approval: bool = False  # the run is clean; only its promotion waits for approvals


def _step_name(step_key: str, pipeline: str) -> str:
    return step_key.removeprefix(f"{pipeline}__")


def run_pipeline(pipeline: str, home: Home | None = None, definitions: dg.Definitions | None = None,
                 on_event: Callable[[str], None] | None = None, poll_seconds: float = 0.3,
                 steps: list[str] | None = None) -> RunSummary:
    """Execute `<pipeline>_pipeline` (or only `steps`); report step starts/ends through `on_event`."""
    spec = get_pipeline(pipeline)
    home = (home or Home.from_env()).ensure()
    if definitions is None:
        from mlsecops.assets.definitions import build_definitions

        definitions = build_definitions()
    instance = dg.DagsterInstance.get()
    run_id = str(uuid.uuid4())
    job = definitions.resolve_job_def(f"{pipeline}_pipeline")
    outcome: dict[str, dg.ExecuteInProcessResult] = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("r", job.execute_in_process(
        instance=instance, run_id=run_id, raise_on_error=False, run_config=QUIET,
        asset_selection=[dg.AssetKey([pipeline, s]) for s in steps] if steps else None)), daemon=True)
    worker.start()
    seen = 0
    while True:
        worker.join(poll_seconds)
        if on_event is not None and instance.get_run_by_id(run_id) is not None:
            records = instance.all_logs(run_id)
            for rec in records[seen:]:
                ev = rec.dagster_event
                if ev is not None and ev.event_type_value in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
                    verb = {"STEP_START": "started", "STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED"}[ev.event_type_value]
                    on_event(f"{pipeline}/{_step_name(ev.step_key, pipeline)} {verb}")
            seen = len(records)
        if not worker.is_alive():
            break
    return summarize(pipeline, outcome["r"], home, steps or [s.name for s in spec.stages])


def summarize(pipeline: str, result: dg.ExecuteInProcessResult, home: Home, stages: list[str]) -> RunSummary:
    run_id = result.run_id
    status: dict[str, str] = {}
    errors: list[str] = []
    checks: dict[str, list[str]] = {}
    for ev in result.all_events:
        if ev.step_key is None:
            continue
        step = _step_name(ev.step_key, pipeline)
        if ev.event_type_value == "STEP_SUCCESS":
            status.setdefault(step, "ok")
        elif ev.event_type_value == "STEP_FAILURE":
            status[step] = "FAILED"
            err = ev.step_failure_data.error
            cause = err.cause if err is not None and err.cause is not None else err
            message = cause.message.strip().splitlines()[-1] if cause is not None else ev.message
            errors.append(f"{pipeline}/{step}: {message}")
        elif ev.event_type_value == "STEP_SKIPPED":
            status[step] = "skipped"
        elif ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = ev.event_specific_data
            name = data.check_name
            checks.setdefault(data.asset_key.path[-1], []).append(("✔ " if data.passed else "✘ ") + name)
            if not data.passed:
                errors.append(f"{pipeline}/{data.asset_key.path[-1]}: check '{name}' failed")
    rows = []
    awaiting = False
    for stage in stages:
        doc = home.evidence / pipeline / run_id / f"{stage}.json"
        figure = ""
        state = status.get(stage, "not run")
        if doc.exists():
            data = json.loads(doc.read_text(encoding="utf-8"))["data"]
            figure = data.get("summary", "")
            if stage == "promotion" and state == "FAILED" and data.get("awaiting_approval"):
                state, awaiting = "awaiting approval", True
                figure = f"model {data['model_sha256']} needs approval"
        if any(c.startswith("✘") for c in checks.get(stage, [])):
            state = "BLOCKED"
        rows.append((stage, state, ", ".join(checks.get(stage, [])), figure))
    if awaiting:
        errors = [e for e in errors if not e.startswith(f"{pipeline}/promotion:")]
    return RunSummary(pipeline, run_id, result.success, rows, errors, awaiting)
