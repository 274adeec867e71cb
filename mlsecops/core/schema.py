"""Declared table schemas: the columns a pipeline's source must have and the role of each.

    schema = TableSchema("patients", columns=(Column("age", "int", "feature", 0, 120), ...), labels=(0, 1))
    schema.inputs     # the source columns a model reads (numeric `feature` + `categorical`)
    schema.features   # the model's input names after encoding (categoricals one-hot: `colour=red`)

Roles: `feature` (numeric), `categorical` (one-hot over `values`), `label`, `identity` and `text`
(never reach a model), `timestamp`, `sensitive` (kept in the table for evaluation, never a feature
unless also declared so elsewhere), `metadata` (kept, never trained on; a spec's `ignore`).
Labels are the raw class values of the source (ints or strings); a model sees their positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["float", "int", "text", "datetime"]
Role = Literal["feature", "categorical", "label", "identity", "text", "timestamp", "sensitive", "metadata"]
Missing = Literal["reject", "impute", "drop"]
DEFAULT_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    role: Role
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    values: tuple[Any, ...] | None = None     # allowed values (the vocabulary of a categorical)
    missing: Missing = "reject"               # what training does with a missing value
    fill: Any = None                          # the value `impute` writes (median / mode, declared)
    max_missing: float | None = None          # the share of missing values validation accepts
    format: str | None = None                 # strftime format of a timestamp

    def encoded_names(self) -> list[str]:
        """This column's model inputs: itself, or one indicator per category."""
        if self.role == "categorical":
            return [f"{self.name}={v}" for v in (self.values or ())]
        return [self.name]


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    labels: tuple[Any, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def inputs(self) -> list[str]:
        """Source columns that feed the model (before encoding)."""
        return [c.name for c in self.columns if c.role in ("feature", "categorical")]

    @property
    def features(self) -> list[str]:
        """The model's input names after encoding, in column order."""
        return [n for c in self.columns if c.role in ("feature", "categorical") for n in c.encoded_names()]

    @property
    def label(self) -> str:
        return next(c.name for c in self.columns if c.role == "label")

    @property
    def label_index(self) -> dict[Any, int]:
        """Raw class value -> the class position a model predicts."""
        return {v: i for i, v in enumerate(self.labels)}

    @property
    def identity_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.role in ("identity", "text")]

    @property
    def sensitive(self) -> list[str]:
        """Sensitive attributes: kept out of the features, available to evaluation (bias controls)."""
        return [c.name for c in self.columns if c.role == "sensitive"]

    @property
    def timestamp(self) -> str | None:
        return next((c.name for c in self.columns if c.role == "timestamp"), None)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)
