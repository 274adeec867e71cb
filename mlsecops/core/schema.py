"""Declared table schemas: the columns a pipeline's source must have and the role of each.

    schema = TableSchema("patients", columns=(Column("age", "int", "feature", 0, 120), ...), labels=(0, 1))
    schema.features   # the only columns that may reach training
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["float", "int", "text", "datetime"]
Role = Literal["feature", "label", "identity", "text", "timestamp", "metadata"]  # metadata: kept, never trained on


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    role: Role
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    labels: tuple[int, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "feature"]

    @property
    def label(self) -> str:
        return next(c.name for c in self.columns if c.role == "label")

    @property
    def identity_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.role in ("identity", "text")]

    @property
    def timestamp(self) -> str | None:
        return next((c.name for c in self.columns if c.role == "timestamp"), None)
