"""Dagster resources: where the embedded default keeps state, the policy, and MLflow."""


import logging
from pathlib import Path
from typing import Any

import dagster as dg

from mlsecops.core.home import Home
from mlsecops.stages.framework import PipelineSpec, StageContext, open_context
from mlsecops.policy import Policy, load_policy
from mlsecops.core.tracking import Tracker


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking + registry (default: sqlite under MLSECOPS_HOME)."""

    tracking_uri: str = ""

    def tracker(self, home: Home) -> Tracker:
        return Tracker.for_home(home, self.tracking_uri)


class MlsecopsResource(dg.ConfigurableResource):
    """The project's home folder and policy; builds the context every stage runs in."""

    home: str = ""
    policy_path: str = ""
    seed_sources: bool = True

    def home_dirs(self) -> Home:
        return (Home(Path(self.home).resolve()) if self.home else Home.from_env()).ensure()

    def policy(self, pipeline: str) -> Policy:
        return load_policy(self.policy_path or None).for_pipeline(pipeline)

    def stage_context(self, spec: PipelineSpec, run_id: str, mlflow: MlflowResource,
                      log: logging.Logger | Any) -> StageContext:
        return open_context(spec, run_id, log, home=self.home_dirs(),
                            policy=load_policy(self.policy_path or None), tracking_uri=mlflow.tracking_uri,
                            seed_sources=self.seed_sources)
