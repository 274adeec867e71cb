"""Policy section `training`: seeded training and the held-out accuracy gate."""

from __future__ import annotations

from pydantic import Field

from mlsecops.core.policy import Section


class TrainingPolicy(Section):
    seed: int = 7
    test_fraction: float = Field(0.25, gt=0, lt=1)
    epochs: int = Field(60, ge=1, le=10_000)
    learning_rate: float = Field(0.01, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    batch_size: int = Field(64, ge=1)
    threads: int = Field(1, ge=0, description="torch threads while fitting (0: torch's default); fixes the digest")
    min_test_accuracy: float = Field(0.9, ge=0, le=1)
