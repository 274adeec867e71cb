"""What a gate is: a pure function of a pipeline's digest-verified evidence and the policy.

    check = CheckSpec("model_quality", "Held-out accuracy meets the policy.", evaluate)
    outcome = check.evaluate(view, policy)          # CheckOutcome; no Dagster, no side effects

The Dagster asset check (mlsecops.assets.checks) and the promotion step run the same `evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from mlsecops.core.evidence import Evidence, EvidenceStore
from mlsecops.core.outcome import CheckOutcome
from mlsecops.trust.keyring import KeyRing

if TYPE_CHECKING:
    from mlsecops.policy import Policy
    from mlsecops.stages.framework import PipelineSpec


class EvidenceView:
    """Read access to a pipeline's latest, digest-verified evidence (what checks evaluate)."""

    def __init__(self, spec: PipelineSpec, store: EvidenceStore, keys: KeyRing) -> None:
        self.spec = spec
        self.store = store
        self.keys = keys

    def evidence(self, step: str) -> Evidence:
        return self.store.latest(self.spec.name, step)

    def data(self, step: str) -> dict[str, Any]:
        return self.evidence(step).data


@dataclass(frozen=True)
class CheckSpec:
    """A blocking control check over the evidence; `evaluate` must not touch Dagster."""

    name: str
    description: str
    evaluate: Callable[[EvidenceView, "Policy"], CheckOutcome]
