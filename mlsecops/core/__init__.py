"""Foundations every other package uses and that import no control: errors, atomic file IO, the home
folder, the evidence store, table schemas, `CheckOutcome`, policy machinery and the MLflow tracker.
"""

__version__ = "0.1.0"
