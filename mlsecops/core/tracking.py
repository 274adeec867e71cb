"""MLflow, used directly through `MlflowClient` (no global tracking state, no pickling flavors).

    tracker = Tracker("sqlite:///.mlsecops/mlflow.db", artifact_root=home.root / "mlartifacts")
    run_id = tracker.run_for("patients", dagster_run_id)
    version = tracker.register("patients", run_id, "model")
    tracker.set_alias("patients", "production", version)
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
logging.getLogger("alembic").setLevel(logging.WARNING)
logging.getLogger("mlflow").setLevel(logging.WARNING)

DAGSTER_RUN_TAG = "mlsecops.dagster_run_id"

if TYPE_CHECKING:
    from mlsecops.core.home import Home


class Tracker:
    def __init__(self, tracking_uri: str, artifact_root: Path) -> None:
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.artifact_root = Path(artifact_root)

    @classmethod
    def for_home(cls, home: "Home", tracking_uri: str = "") -> "Tracker":
        """The home's MLflow (sqlite under it) unless `tracking_uri` names another server."""
        return cls(tracking_uri or home.mlflow_uri, artifact_root=home.root / "mlartifacts")

    def experiment_id(self, pipeline: str) -> str:
        exp = self.client.get_experiment_by_name(pipeline)
        if exp is not None:
            return exp.experiment_id
        # A tracking server stores artifacts itself (proxied `mlflow-artifacts:`); embedded: a local folder.
        remote = self.client.tracking_uri.startswith(("http://", "https://"))
        location = None if remote else (self.artifact_root / pipeline).resolve().as_uri()
        try:
            return self.client.create_experiment(pipeline, artifact_location=location)
        except MlflowException:  # created concurrently
            return self.client.get_experiment_by_name(pipeline).experiment_id

    def run_for(self, pipeline: str, dagster_run_id: str) -> str:
        """The MLflow run that mirrors one Dagster run (created on first use)."""
        exp = self.experiment_id(pipeline)
        found = self.client.search_runs([exp], filter_string=f"tags.`{DAGSTER_RUN_TAG}` = '{dagster_run_id}'",
                                        run_view_type=ViewType.ALL, max_results=1)
        if found:
            return found[0].info.run_id
        run = self.client.create_run(exp, run_name=f"{pipeline}-{dagster_run_id[:8]}",
                                     tags={DAGSTER_RUN_TAG: dagster_run_id, "mlsecops.pipeline": pipeline})
        return run.info.run_id

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        for key, value in params.items():
            self.client.log_param(run_id, key, value)

    def log_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.client.log_metric(run_id, key, float(value))

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(run_id, key, value)

    def log_file(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_folder(self, run_id: str, folder: Path, artifact_path: str) -> None:
        self.client.log_artifacts(run_id, str(folder), artifact_path)

    def register(self, name: str, run_id: str, artifact_path: str) -> str:
        """Register the run's artifact folder as a new version of model `name`; return the version."""
        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name)
        source = f"{self.client.get_run(run_id).info.artifact_uri}/{artifact_path}"
        return str(self.client.create_model_version(name, source, run_id=run_id).version)

    def download(self, run_id: str, artifact_path: str, dst: Path | None = None) -> Path:
        dst = Path(dst or tempfile.mkdtemp(prefix="mlsecops-dl-"))
        return Path(self.client.download_artifacts(run_id, artifact_path, str(dst)))

    def version(self, name: str, version: str) -> Any:
        return self.client.get_model_version(name, version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def alias_version(self, name: str, alias: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None
