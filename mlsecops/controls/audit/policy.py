"""Policy section `audit`: how often the decision log's head is signed."""

from __future__ import annotations

from pydantic import Field

from mlsecops.core.policy import Section


class AuditPolicy(Section):
    checkpoint_every: int = Field(1000, ge=1, description="sign the log head every N records")
