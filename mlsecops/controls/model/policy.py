"""Policy sections of the model controls: `signing` and `scanning`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlsecops.core.policy import Section

ArtifactFormat = Literal["safetensors", "json", "text", "parquet", "empty"]

ArtifactScanner = Literal["picklescan", "fickling", "modelscan"]


class SigningPolicy(Section):
    identity: str = Field("trainer", min_length=1, description="identity whose key signs models")


class ScanningPolicy(Section):
    allowed_formats: tuple[ArtifactFormat, ...] = Field(
        ("safetensors", "json"), min_length=1, description="non-executable formats allowed, judged by content")
    scanners: tuple[ArtifactScanner, ...] = Field(
        ("picklescan", "fickling", "modelscan"), min_length=1, description="scanners that must run on every artifact")
