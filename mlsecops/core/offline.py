"""Telemetry off, everywhere the project starts a library: MLflow, Dagster, GX and the HF hub stay offline.

    offline_env()                                  # this process (done when `mlsecops` is imported)
    subprocess.Popen(argv, env=offline_env(dict(os.environ)))   # a child that may not import mlsecops
"""

from __future__ import annotations

import os
import sys
from typing import MutableMapping


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

