"""Validate a table against its declared schema with a Great Expectations 1.x suite.

    report = validate_table(frame, schema, min_rows=100)
    report["success"], report["failed"]        # failed: one line per failed expectation
    outcome = evaluate_validation(report)      # CheckOutcome for the blocking check
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pandas as pd

from mlsecops.core.outcome import DATA_PROCESSING, CheckOutcome
from mlsecops.core.schema import DEFAULT_TIMESTAMP_FORMAT, TableSchema

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _suite(gx: Any, schema: TableSchema, min_rows: int, max_null_fraction: float) -> Any:
    E = gx.expectations
    suite = gx.ExpectationSuite(name=f"{schema.name}_suite")
    suite.add_expectation(E.ExpectTableColumnsToMatchSet(column_set=schema.column_names, exact_match=True))
    suite.add_expectation(E.ExpectTableRowCountToBeBetween(min_value=min_rows))
    for col in schema.columns:
        if col.kind in ("float", "int"):
            types = ["int64", "Int64", "int32"] if col.kind == "int" else ["float64", "float32", "int64", "Int64"]
            suite.add_expectation(E.ExpectColumnValuesToBeInTypeList(column=col.name, type_list=types))
        if col.minimum is not None or col.maximum is not None:
            suite.add_expectation(E.ExpectColumnValuesToBeBetween(
                column=col.name, min_value=col.minimum, max_value=col.maximum))
        if not col.nullable:
            if col.max_missing is not None:      # declared in the spec: impute / drop up to this share
                mostly = 1.0 - col.max_missing
            else:
                mostly = 1.0 - max_null_fraction if col.role == "feature" else 1.0
            if mostly > 0:
                suite.add_expectation(E.ExpectColumnValuesToNotBeNull(column=col.name, mostly=mostly))
        if col.role == "label":
            suite.add_expectation(E.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(schema.labels)))
        elif col.values is not None:
            suite.add_expectation(E.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.values)))
        if col.kind == "datetime":
            suite.add_expectation(E.ExpectColumnValuesToMatchStrftimeFormat(
                column=col.name, strftime_format=col.format or DEFAULT_TIMESTAMP_FORMAT))
    return suite


def validate_table(frame: pd.DataFrame, schema: TableSchema, *, min_rows: int,
                   max_null_fraction: float = 0.0) -> dict[str, Any]:
    """Run the suite; return a JSON-able report listing every expectation and its result."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (context.data_sources.add_pandas("mlsecops").add_dataframe_asset(schema.name)
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame}))
    result = batch.validate(_suite(gx, schema, min_rows, max_null_fraction))
    expectations, failed = [], []
    for item in result.results:
        cfg = item.expectation_config
        column = cfg.kwargs.get("column")
        line = {"expectation": cfg.type, "column": column, "success": bool(item.success),
                "unexpected_count": int(item.result.get("unexpected_count") or 0)}
        expectations.append(line)
        if not item.success:
            where = f" on column '{column}'" if column else ""
            extra = f" ({line['unexpected_count']} unexpected values)" if line["unexpected_count"] else ""
            failed.append(f"{cfg.type}{where}{extra}")
    return {"suite": f"{schema.name}_suite", "gx_version": gx.__version__, "success": bool(result.success),
            "evaluated": len(expectations), "failed": failed, "expectations": expectations}


def evaluate_validation(report: dict[str, Any]) -> CheckOutcome:
    failed = report["failed"]
    return CheckOutcome(
        check="validation_suite", passed=report["success"] and not failed, value=len(failed), threshold=0,
        policy_key="validation", control=DATA_PROCESSING, atlas="AML.T0020", mitigation="AML.M0007",
        detail=("all %d expectations met" % report["evaluated"]) if not failed
        else f"{len(failed)} of {report['evaluated']} expectations failed: " + "; ".join(failed[:5]))
