"""Where the embedded default keeps its state: `MLSECOPS_HOME` (default `./.mlsecops`).

    home = Home.from_env()
    home.dagster            # DAGSTER_HOME
    home.mlflow_uri         # sqlite:///.../mlflow.db
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlsecops.core.fileio import write_bytes_atomic

# The embedded instance's dagster.yaml: local sqlite storage (Dagster's default), no telemetry.
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


@dataclass(frozen=True)
class Home:
    """The folder layout under `MLSECOPS_HOME`; every path is absolute."""

    root: Path

    @classmethod
    def from_env(cls) -> "Home":
        return cls(Path(os.environ.get("MLSECOPS_HOME", ".mlsecops")).expanduser().resolve())

    @property
    def dagster(self) -> Path:
        return self.root / "dagster"

    @property
    def evidence(self) -> Path:
        return self.root / "evidence"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def audit_db(self) -> Path:
        return self.root / "audit.db"

    @property
    def approvals(self) -> Path:
        return self.root / "approvals"

    @property
    def mlflow_uri(self) -> str:
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.root / 'mlflow.db'}"

    def ensure(self) -> "Home":
        """Create the folders and export DAGSTER_HOME (Dagster needs an existing absolute folder)."""
        for path in (self.root, self.dagster, self.evidence, self.artifacts, self.sources, self.keys):
            path.mkdir(parents=True, exist_ok=True)
        config = self.dagster / "dagster.yaml"
        if not config.exists():  # embedded default: local sqlite storage, no telemetry
            write_bytes_atomic(config, DAGSTER_YAML.encode())
        os.environ.setdefault("DAGSTER_HOME", str(self.dagster))
        return self
