"""Turn a (redacted) table into what a model reads: missing values handled, categoricals one-hot, label positions.

    prepared, record = prepare_table(frame, schema)
    prepared[schema.features]   # float inputs; prepared[schema.label]: class positions 0..k-1
    record                      # vocabulary, label mapping, fills, dropped rows: for evidence and model.json

Everything is declared in the schema (vocabulary, fill values), so the same table always gives
the same encoding, and the trusted slice is encoded exactly like the data it screens.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlsecops.core.errors import SourceError
from mlsecops.core.schema import TableSchema


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def encoding_record(schema: TableSchema) -> dict[str, Any]:
    """The vocabulary, label mapping and missing-value rules, JSON-able (shipped with the model)."""
    return {"features": schema.features,
            "categorical": {c.name: [_plain(v) for v in (c.values or ())] for c in schema.columns
                            if c.role == "categorical"},
            "label": {"column": schema.label, "classes": [_plain(v) for v in schema.labels]},
            "missing": {c.name: {"action": c.missing, "fill": _plain(c.fill)} for c in schema.columns
                        if c.missing != "reject" and c.role in ("feature", "categorical", "sensitive")}}


def prepare_table(frame: pd.DataFrame, schema: TableSchema, origin: str = "table") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply the schema's missing-value rules, one-hot categoricals and map labels to positions."""
    out = frame.reset_index(drop=True)
    rows = len(out)
    for col in schema.columns:
        if col.name not in out.columns or col.role not in ("feature", "categorical", "sensitive", "label"):
            continue
        nulls = out[col.name].isna()
        if not nulls.any():
            continue
        if col.missing == "drop":
            out = out[~nulls.to_numpy()].reset_index(drop=True)
        elif col.missing == "impute":
            out[col.name] = out[col.name].fillna(col.fill)
    mapping = schema.label_index
    labels = out[schema.label].map(lambda v: mapping.get(_plain(v), mapping.get(str(v), -1)))
    unknown = int((labels < 0).sum())
    if unknown:
        raise SourceError(f"{origin}: {unknown} row(s) of label column '{schema.label}' hold a value outside "
                          f"the declared classes {list(schema.labels)}: fix the data or declare the class")
    out[schema.label] = labels.astype("int64")
    encoded = {}
    for col in schema.columns:
        if col.role == "categorical" and col.name in out.columns:
            values = out[col.name]
            for v, name in zip(col.values or (), col.encoded_names()):
                encoded[name] = (values == v).to_numpy(dtype=np.float64)
        elif col.role == "feature" and col.name in out.columns and not pd.api.types.is_numeric_dtype(out[col.name]):
            out[col.name] = pd.to_numeric(out[col.name], errors="coerce").astype("float64")
    if encoded:
        out = pd.concat([out, pd.DataFrame(encoded, index=out.index)], axis=1)
    features = out[schema.features] if schema.features else out.iloc[:, :0]
    bad = [c for c in features.columns if features[c].isna().any()]
    if bad:
        raise SourceError(f"{origin}: feature column(s) {bad[:5]} still hold missing values: declare "
                          f"`missing: impute` or `missing: drop` for them in the pipeline spec")
    return out, {**encoding_record(schema), "rows_in": rows, "rows_out": int(len(out)),
                 "dropped_rows": rows - int(len(out))}
