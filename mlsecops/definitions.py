"""The one Dagster Definitions object: `dagster dev -w workspace.yaml` loads it."""

from mlsecops.assets.definitions import build_definitions

defs = build_definitions()
