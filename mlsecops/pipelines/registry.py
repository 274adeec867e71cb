"""The reference pipelines by name."""

from __future__ import annotations

from mlsecops.core.errors import MlsecopsError
from mlsecops.pipelines.digits import DIGITS
from mlsecops.pipelines.patients import PATIENTS
from mlsecops.stages.framework import PipelineSpec

PIPELINES: dict[str, PipelineSpec] = {spec.name: spec for spec in (PATIENTS, DIGITS)}


def get_pipeline(name: str) -> PipelineSpec:
    if name not in PIPELINES:
        raise MlsecopsError(f"unknown pipeline '{name}' (known: {', '.join(sorted(PIPELINES))})")
    return PIPELINES[name]
