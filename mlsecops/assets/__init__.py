"""Thin Dagster wrappers around the stages, built per pipeline by `build_pipeline`."""
