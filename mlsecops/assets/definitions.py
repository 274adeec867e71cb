"""Build the one Dagster Definitions object: every pipeline's assets, blocking checks, jobs and sensors.

    defs = build_definitions()                           # what mlsecops.definitions exposes
    defs = build_definitions(executor=dask_executor)     # the scale-out profile
"""

from __future__ import annotations

import dagster as dg

from mlsecops.assets.factory import build_pipeline
from mlsecops.assets.fuzz import build_fuzz_job
from mlsecops.assets.sensors import build_approval_sensor
from mlsecops.pipelines.registry import PIPELINES
from mlsecops.resources import MlflowResource, MlsecopsResource


def build_definitions(mlsecops: MlsecopsResource | None = None, mlflow: MlflowResource | None = None,
                      executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
    """Every pipeline's assets, checks and job; `executor` replaces the default (scale-out: Dask)."""
    assets, checks, jobs = [], [], []
    for spec in PIPELINES.values():
        a, c, j = build_pipeline(spec)
        assets += a
        checks += c
        jobs.append(j)
        if spec.reference is not None:
            jobs.append(build_fuzz_job(spec))
    return dg.Definitions(assets=assets, asset_checks=checks, jobs=jobs,
                          sensors=[build_approval_sensor(spec) for spec in PIPELINES.values()],
                          resources={"mlsecops": mlsecops or MlsecopsResource(),
                                     "mlflow": mlflow or MlflowResource()},
                          executor=executor)

