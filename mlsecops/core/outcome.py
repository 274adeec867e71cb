"""The result every control check returns, whoever runs it (Dagster check, promotion, CLI).

    outcome = CheckOutcome(check="validation_suite", passed=False, value=3, threshold=0,
                           policy_key="validation", control="data processing", atlas="AML.T0020",
                           detail="3 expectations failed: ...")
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# The AI security risk assessment framework's control areas (seed 000).
DATA_COLLECTION = "data collection"
DATA_PROCESSING = "data processing"
MODEL_TRAINING = "model training"
MODEL_DEPLOYMENT = "model deployment"
MONITORING = "system monitoring"
INCIDENT_MANAGEMENT = "incident management"
BUSINESS_CONTINUITY = "business continuity"
CONTROL_AREAS = (DATA_COLLECTION, DATA_PROCESSING, MODEL_TRAINING, MODEL_DEPLOYMENT,
                 MONITORING, INCIDENT_MANAGEMENT, BUSINESS_CONTINUITY)


@dataclass(frozen=True)
class CheckOutcome:
    """A measured control result: value vs threshold, and the control/technique it implements."""

    check: str
    passed: bool
    value: Any
    threshold: Any
    policy_key: str
    control: str
    atlas: str | None
    detail: str
    mitigation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Markdown:
    """A metadata value shown as rendered Markdown in the Dagster UI."""

    text: str
