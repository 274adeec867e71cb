"""mlsecops: a governed ML training pipeline that refuses to promote what it cannot prove.

Importing the package turns the libraries' telemetry off (before MLflow or Dagster is imported by any
of its modules), so every entry point (CLI, Dagster code location, benches, services) runs offline:

    from mlsecops import OFFLINE_ENV, offline_env
    subprocess.Popen(argv, env=offline_env(dict(os.environ)))   # a child process that imports neither
"""

from __future__ import annotations

import os
import sys
from typing import MutableMapping

__version__ = "0.1.0"

# MLflow 3.x phones home (config.mlflow-telemetry.io) unless told not to; Dagster logs usage
# unless told not to; GX sends analytics unless told not to; the hub stays offline.
OFFLINE_ENV: dict[str, str] = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DAGSTER_DISABLE_TELEMETRY": "true",
    "GX_ANALYTICS_ENABLED": "false",
    "HF_HUB_OFFLINE": "1",
}


def offline_env(env: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Force the telemetry switches of `OFFLINE_ENV` into `env` (default: this process's environment)."""
    target = os.environ if env is None else env
    target.update(OFFLINE_ENV)
    if env is None and "mlflow.telemetry" in sys.modules:  # MLflow came first: drop the client it started
        from mlflow.telemetry import set_telemetry_client

        set_telemetry_client()
    return target


offline_env()
