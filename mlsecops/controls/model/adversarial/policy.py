"""Policy section `adversarial`: the attacks' budgets and the gates they feed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from mlsecops.core.policy import Section


class EvasionBudget(Section):
    eps: tuple[float, ...] = Field((0.01, 0.02, 0.05, 0.1), min_length=1,
                                   description="L-inf budgets as a fraction of each feature's range")
    pgd_max_iter: int = Field(10, ge=1, le=200)
    gate_eps: float = Field(0.02, gt=0, le=1, description="the budget the robust-accuracy gate reads")
    min_robust_accuracy: float = Field(0.6, ge=0, le=1, description="worst of FGSM/PGD at gate_eps")

    @model_validator(mode="after")
    def _gate_eps_listed(self) -> "EvasionBudget":
        if any(not 0 < e <= 1 for e in self.eps):
            raise ValueError(f"every eps must be in (0, 1], got {list(self.eps)}")
        if self.gate_eps not in self.eps:
            raise ValueError(f"gate_eps {self.gate_eps} must be one of eps {list(self.eps)}")
        return self


class HopSkipJumpBudget(Section):
    samples: int = Field(10, ge=1, le=500, description="correctly classified held-out rows attacked")
    max_iter: int = Field(5, ge=1, le=100)
    max_eval: int = Field(200, ge=10, le=10_000)
    init_eval: int = Field(20, ge=1, le=1_000)
    l2_bound: float | None = Field(None, gt=0, description="an evasion counts if its L2 distance (unit range) is "
                                   "within; default: the L2 size of the L-inf gate, gate_eps * sqrt(features)")
    max_success_rate: float = Field(0.5, ge=0, le=1, description="share of rows evaded within l2_bound")


class MembershipBudget(Section):
    attack_model: Literal["gb", "rf", "lr", "nn"] = "gb"
    max_rows: int = Field(400, ge=20, description="members and non-members each, at most")
    bootstrap: int = Field(200, ge=20, le=5_000)
    max_advantage: float = Field(0.15, ge=-1, le=1, description="TPR - FPR of the attack on held-out rows")


class ExtractionBudget(Section):
    queries: tuple[int, ...] = Field((10, 25, 50, 100, 200), min_length=1)
    epochs: int = Field(20, ge=1, le=1_000)
    gate_queries: int = Field(10, ge=1, description="budget the gate reads; unset: the smallest of queries")
    max_agreement: float = Field(0.98, ge=0, le=1, description="stolen/victim agreement at gate_queries")

    @model_validator(mode="before")
    @classmethod
    def _gate_defaults_to_smallest(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("gate_queries") is None:
            queries = data.get("queries") or cls.model_fields["queries"].default
            if all(isinstance(q, int) for q in queries):
                data = {**data, "gate_queries": min(queries)}
        return data

    @model_validator(mode="after")
    def _gate_listed(self) -> "ExtractionBudget":
        if any(q < 1 for q in self.queries):
            raise ValueError(f"every query budget must be >= 1, got {list(self.queries)}")
        if self.gate_queries not in self.queries:
            raise ValueError(f"gate_queries {self.gate_queries} must be one of queries {list(self.queries)}")
        return self


class InversionBudget(Section):
    max_iter: int = Field(100, ge=1, le=10_000)
    learning_rate: float = Field(0.1, gt=0)
    max_similarity: float = Field(0.9, ge=-1, le=1, description="mean cosine of reconstruction to class mean")


class CorruptionBudget(Section):
    kinds: dict[str, float] = Field(default_factory=lambda: {"gaussian_noise": 0.1, "gaussian_blur": 0.6,
                                                             "contrast": 0.5, "dropout": 0.1}, min_length=1)
    min_accuracy: float = Field(0.8, ge=0, le=1, description="accuracy under the worst corruption")


class AdversarialPolicy(Section):
    seed: int = 7
    samples: int = Field(200, ge=10, description="held-out rows attacked by evasion and corruptions, at most")
    evasion: EvasionBudget = EvasionBudget()
    hopskipjump: HopSkipJumpBudget = HopSkipJumpBudget()
    membership: MembershipBudget = MembershipBudget()
    extraction: ExtractionBudget = ExtractionBudget()
    inversion: InversionBudget = InversionBudget()
    corruptions: CorruptionBudget = CorruptionBudget()
