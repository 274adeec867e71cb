"""The standard stages every pipeline runs, in order; later controls insert themselves here.

    stages = standard_stages()     # raw_data -> validated_data -> redacted_data -> screened_data -> trained_model
    #                                -> model_scan -> signed_model -> adversarial_evaluation -> risk_report -> promotion
"""

from __future__ import annotations

from dataclasses import replace

from mlsecops.stages.adversarial_evaluation import TABULAR_ATTACKS, adversarial_stage
from mlsecops.stages.framework import Stage
from mlsecops.stages.model_scan import MODEL_SCAN
from mlsecops.stages.promotion import promotion_stage
from mlsecops.stages.raw_data import RAW_DATA
from mlsecops.stages.redacted_data import REDACTED_DATA
from mlsecops.stages.risk_report import REPORT_STEP, risk_report_stage
from mlsecops.stages.screened_data import screened_data_stage
from mlsecops.stages.signed_model import SIGNED_MODEL
from mlsecops.stages.trained_model import TRAINED_MODEL
from mlsecops.stages.validated_data import VALIDATED_DATA


def standard_stages(attacks: tuple[str, ...] = TABULAR_ATTACKS) -> tuple[Stage, ...]:
    """The chain; `attacks` picks what `adversarial_evaluation` runs (see stages.adversarial_evaluation)."""
    chain = (RAW_DATA, VALIDATED_DATA, REDACTED_DATA, screened_data_stage(REDACTED_DATA.name),
             replace(TRAINED_MODEL, deps=("screened_data",)), MODEL_SCAN, SIGNED_MODEL, adversarial_stage(attacks))
    return chain + (risk_report_stage(chain[-1].name), promotion_stage(REPORT_STEP))
