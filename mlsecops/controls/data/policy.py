"""Policy sections of the data controls: the source (provenance) and the GX validation suite."""

from __future__ import annotations

from pydantic import Field

from mlsecops.core.policy import Section


class SourcePolicy(Section):
    max_bytes: int = Field(100 * 2**20, gt=0, description="largest source file accepted")
    encoding: str = "utf-8"


class ValidationPolicy(Section):
    min_rows: int = Field(100, ge=1)
    max_null_fraction: float = Field(0.0, ge=0, le=1, description="per feature column")
