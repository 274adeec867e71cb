"""Gates on the adversarial evaluation: one blocking check per gate the pipeline's attacks feed.

    adversarial_checks(("fgsm", "pgd", "membership", "copycat", "hopskipjump"))
    # robust_accuracy, query_evasion, membership_inference, model_extraction (+ model_inversion,
    # corruption_robustness when the attacks include miface / corruptions)
"""

from __future__ import annotations

from mlsecops.checks.spec import CheckSpec, EvidenceView
from mlsecops.controls.model.adversarial.engine import evaluate_gate, gates_for
from mlsecops.core.outcome import CheckOutcome
from mlsecops.policy import Policy

STEP = "adversarial_evaluation"


def _check(check: str):
    def evaluate(view: EvidenceView, policy: Policy) -> CheckOutcome:
        return evaluate_gate(check, view.data(STEP)["adversarial"], policy.adversarial)

    return evaluate


def adversarial_checks(attacks: tuple[str, ...]) -> tuple[CheckSpec, ...]:
    """The CheckSpecs of every gate that `attacks` feed."""
    return tuple(CheckSpec(g.check, g.description, _check(g.check)) for g in gates_for(attacks))
