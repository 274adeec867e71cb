"""Policy sections of the release controls: `promotion` and `approvals`."""

from __future__ import annotations

from pydantic import Field, model_validator

from mlsecops.core.policy import Section


class PromotionPolicy(Section):
    alias: str = Field("production", min_length=1)
    identity: str = Field("promoter", min_length=1, description="identity whose key signs promotion decisions")


class ApprovalPolicy(Section):
    required: int = Field(1, ge=1, le=20, description="distinct identities whose valid approval promotion needs")
    required_roles: tuple[str, ...] = Field(("release-manager",), description="each needs one valid approval")
    roles: dict[str, tuple[str, ...]] = Field(default_factory=lambda: {"release-manager": ("demo-approver",)},
                                              description="role -> identities that hold it")
    max_validity_hours: float = Field(168.0, gt=0, description="longest an approval may be valid")
    max_clock_skew_seconds: float = Field(300.0, ge=0)

    @model_validator(mode="after")
    def _roles_defined(self) -> "ApprovalPolicy":
        undefined = [r for r in self.required_roles if r not in self.roles]
        if undefined:
            raise ValueError(f"required_roles {undefined} are not defined in approvals.roles")
        return self
