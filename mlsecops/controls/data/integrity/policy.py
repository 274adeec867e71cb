"""Policy section `poisoning`: the poison screen's blocking limits and cuts."""

from __future__ import annotations

from pydantic import Field

from mlsecops.core.policy import Section


class PoisoningPolicy(Section):
    """The poisoning screen (controls/poisoning.py): blocking limits, then the screen's own cuts."""

    max_flagged_fraction: float = Field(0.03, ge=0, le=1, description="quarantined share that blocks (AML.T0020)")
    max_trigger_fraction: float = Field(0.005, ge=0, le=1, description="rows sharing a trigger (AML.T0043.004)")
    harm_quantile: float = Field(0.98, ge=0, le=1)
    max_label_probability: float = Field(0.1, ge=0, le=1)
    min_neighbour_agreement: float = Field(0.4, ge=0, le=1)
    spectral_factor: float = Field(2.0, gt=0)
    min_votes: int = Field(2, ge=1, le=4)
    strong_label_probability: float = Field(0.02, ge=0, le=1)
    rare_quantile: float = Field(0.95, ge=0, le=1)
    neighbours: int = Field(10, ge=1)
    reference_folds: int = Field(5, ge=3)
    c_harm: float = Field(0.01, gt=0)
    c_label: float = Field(1.0, gt=0)
    trigger_share: float = Field(0.8, ge=0, le=1)
    trigger_min_rows: int = Field(5, ge=2)
    campaign_alarm_rate: float = Field(0.02, ge=0, le=1)
    campaign_p_value: float = Field(0.001, ge=0, le=1)
    campaign_label_probability: float = Field(0.5, ge=0, le=1)
    seed: int = 0
