"""Policy section `report`: the risk report's acceptance and coverage gates."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlsecops.core.policy import Section


class ReportPolicy(Section):
    max_risk_level: Literal["low", "medium", "high", "critical"] = Field(
        "medium", description="highest risk level of a failing control the release accepts")
    min_area_coverage: float = Field(
        0.4, ge=0, le=1, description="share of the framework's control areas that must have evidence")
    history_runs: int = Field(20, ge=0, le=1000, description="previous runs shown in the posture trend")
    default_severity: Literal["low", "medium", "high", "critical"] = Field(
        "medium", description="severity of a check that names no known ATLAS technique")
    severity: dict[str, Literal["low", "medium", "high", "critical"]] = Field(
        default_factory=dict, description="severity override per ATLAS technique id")
