"""Security controls: plain Python, no Dagster import, unit-testable."""
