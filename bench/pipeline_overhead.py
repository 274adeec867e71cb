"""Dagster overhead: the `patients` job through Dagster vs the same stage/check calls in a plain loop.

Both run every stage before `promotion` (which waits for a human approval) with their checks, in one
process on the same home (MLflow sqlite, evidence store) and the Dagster instance `mlsecops run` uses
(the home's dagster.yaml), alternating, after one warm-up each; the figure is the median of several
repetitions (BENCH_REPEAT, default 5).
Last line: `ratio: X` = plain time / Dagster time (target >= 0.77, i.e. overhead <= 1.3x).
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlsecops  # noqa: E402,F401  (first: telemetry off before MLflow or Dagster is imported)
import dagster as dg  # noqa: E402

from mlsecops.assets.definitions import build_definitions  # noqa: E402
from mlsecops.core.home import Home  # noqa: E402
from mlsecops.pipelines.registry import get_pipeline  # noqa: E402
from mlsecops.stages.framework import StageContext  # noqa: E402
from mlsecops.policy import load_policy  # noqa: E402
from mlsecops.resources import MlflowResource, MlsecopsResource  # noqa: E402
from mlsecops.core.tracking import Tracker  # noqa: E402

PIPELINE = os.environ.get("BENCH_PIPELINE", "patients")
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))


def plain(home: Home) -> float:
    spec = get_pipeline(PIPELINE)
    policy = load_policy().for_pipeline(PIPELINE)
    tracker = Tracker(home.mlflow_uri, home.root / "mlartifacts")
    run_id = str(uuid.uuid4())
    start = time.perf_counter()
    for stage in spec.stages[:-1]:  # every stage before promotion
        ctx = StageContext(spec, policy, home, run_id, tracker, logging.getLogger("bench"))
        ctx.record(stage, stage.run(ctx))
        for check in stage.checks:
            outcome, _ = ctx.run_check(stage, check)  # the same evaluate + evidence + audit as the Dagster check
            assert outcome.passed, (stage.name, outcome.check, outcome.detail)
    return time.perf_counter() - start


def through_dagster(home: Home, defs: dg.Definitions, instance: dg.DagsterInstance) -> float:
    job = defs.resolve_job_def(f"{PIPELINE}_pipeline")
    spec = get_pipeline(PIPELINE)
    selection = [dg.AssetKey([PIPELINE, stage.name]) for stage in spec.stages[:-1]]
    start = time.perf_counter()
    result = job.execute_in_process(instance=instance, asset_selection=selection,
                                    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
    elapsed = time.perf_counter() - start
    assert result.success
    return elapsed


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    home = Home(root / "home").ensure()
    defs = build_definitions(MlsecopsResource(home=str(home.root)), MlflowResource(tracking_uri=home.mlflow_uri))
    # The instance `mlsecops run` uses: DAGSTER_HOME = <home>/dagster with the dagster.yaml Home.ensure writes.
    instance = dg.DagsterInstance.from_config(str(home.dagster))
    plain(home), through_dagster(home, defs, instance)  # warm-up: imports, MLflow schema, GX
    plain_times, dagster_times = [], []
    for _ in range(REPEAT):
        plain_times.append(plain(home))
        dagster_times.append(through_dagster(home, defs, instance))
    p, d = statistics.median(plain_times), statistics.median(dagster_times)
    print(f"pipeline: {PIPELINE}, repetitions: {REPEAT}")
    print(f"plain stage calls: {p:.2f} s (median of {[round(t, 2) for t in plain_times]})")
    print(f"through Dagster:   {d:.2f} s (median of {[round(t, 2) for t in dagster_times]})")
    print(f"Dagster overhead:  {d / p:.2f}x")
    print(f"ratio: {p / d:.2f}")


if __name__ == "__main__":
    main()
