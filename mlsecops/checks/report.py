"""Gates on the risk report: accepted risk and framework coverage.

    RISK_ACCEPTANCE_CHECK, FRAMEWORK_COVERAGE_CHECK       # CheckSpecs of the risk_report stage
"""

from __future__ import annotations

from mlsecops.checks.spec import CheckSpec, EvidenceView
from mlsecops.controls.report.report import FRAMEWORK_COVERAGE, REPORT_STEP, RISK_ACCEPTANCE, evaluate
from mlsecops.core.outcome import CheckOutcome
from mlsecops.policy import Policy


def _gate(view: EvidenceView, policy: Policy) -> list[CheckOutcome]:
    return evaluate(view.data(REPORT_STEP), policy.report)


RISK_ACCEPTANCE_CHECK = CheckSpec(RISK_ACCEPTANCE, "No failing control carries more risk than the policy accepts.",
                                  lambda view, policy: _gate(view, policy)[0])
FRAMEWORK_COVERAGE_CHECK = CheckSpec(FRAMEWORK_COVERAGE, "Evidence covers enough of the framework's control areas.",
                                     lambda view, policy: _gate(view, policy)[1])

CHECKS = (RISK_ACCEPTANCE_CHECK, FRAMEWORK_COVERAGE_CHECK)
