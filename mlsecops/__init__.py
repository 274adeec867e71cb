"""mlsecops: a governed ML training pipeline that refuses to promote what it cannot prove.

Layout (see README "Layout"): core/ and trust/ are the foundations; controls/ holds the security
logic (no Dagster); checks/ is the gate catalogue; stages/ runs controls as pipeline steps;
assets/, checks/asset_checks.py and resources/ are the Dagster face; cli/ the command line.
"""

from mlsecops.core import __version__

__all__ = ["__version__"]
