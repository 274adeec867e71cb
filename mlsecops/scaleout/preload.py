"""Dask worker preload: import the pipelines once when a worker starts, not inside the first step."""

import mlsecops.definitions  # noqa: F401
