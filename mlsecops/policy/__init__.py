"""The policy in force: one section per control family, composed here (one line per family).

    policy = load_policy()                    # $MLSECOPS_POLICY or the packaged policy.yaml
    policy.for_pipeline("digits").training.min_test_accuracy

Adding a control family means declaring its `Section` next to its code and one field below.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlsecops.controls.audit.policy import AuditPolicy
from mlsecops.controls.data.discretion.policy import PiiPolicy
from mlsecops.controls.data.integrity.policy import PoisoningPolicy
from mlsecops.controls.data.policy import SourcePolicy, ValidationPolicy
from mlsecops.controls.model.adversarial.policy import AdversarialPolicy
from mlsecops.controls.model.policy import ScanningPolicy, SigningPolicy
from mlsecops.controls.release.policy import ApprovalPolicy, PromotionPolicy
from mlsecops.controls.report.policy import ReportPolicy
from mlsecops.core.policy import DEFAULT_POLICY, PolicyBase, load_policy_file
from mlsecops.models.policy import TrainingPolicy


class Policy(PolicyBase):
    source: SourcePolicy = SourcePolicy()
    validation: ValidationPolicy = ValidationPolicy()
    poisoning: PoisoningPolicy = PoisoningPolicy()
    training: TrainingPolicy = TrainingPolicy()
    signing: SigningPolicy = SigningPolicy()
    scanning: ScanningPolicy = ScanningPolicy()
    adversarial: AdversarialPolicy = AdversarialPolicy()
    promotion: PromotionPolicy = PromotionPolicy()
    pii: PiiPolicy = PiiPolicy()
    approvals: ApprovalPolicy = ApprovalPolicy()
    audit: AuditPolicy = AuditPolicy()
    report: ReportPolicy = ReportPolicy()


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate the policy from `path`, `$MLSECOPS_POLICY` or the packaged default."""
    return load_policy_file(Path(path or os.environ.get("MLSECOPS_POLICY") or DEFAULT_POLICY), Policy)
