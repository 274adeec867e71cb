"""mlsecops: a governed ML training pipeline that refuses to promote what it cannot prove.

Importing the package turns the libraries' telemetry off (before MLflow or Dagster is imported by any
of its modules), so every entry point (CLI, Dagster code location, benches, services) runs offline.

Layout (see README "Layout"): core/ and trust/ are the foundations; controls/ holds the security
logic (no Dagster); checks/ is the gate catalogue; stages/ runs controls as pipeline steps;
assets/, checks/asset_checks.py and resources/ are the Dagster face; cli/ the command line.
"""

from mlsecops.core import __version__
from mlsecops.core.offline import OFFLINE_ENV, offline_env

offline_env()

__all__ = ["OFFLINE_ENV", "__version__", "offline_env"]
