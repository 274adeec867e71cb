"""`redacted_data`: the discretion stage between validation and training.

    REDACTED_DATA = Stage("redacted_data", ..., ("validated_data",), run_redacted_data, checks=...)

Scans the validated table offline (mlsecops.controls.data.discretion.pii), drops / masks / replaces / pseudonymizes
what it finds, writes only the redacted table, and scans that again. Its blocking checks and the
promotion step evaluate the same evidence: `no_unredacted_pii` (the rescan finds nothing),
`no_unexpected_pii` (PII in an undeclared column, when the policy says `unexpected_pii: block`) and
`identity_columns_not_in_features`. Evidence, Dagster metadata and logs carry counts and shapes only.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlsecops.checks.data import (IDENTITY_COLUMNS_NOT_IN_FEATURES, NO_UNEXPECTED_PII, NO_UNREDACTED_PII,
                                 declared_columns)
from mlsecops.controls.data.discretion.pii import (build_evidence, pseudonym_key, redact_table,
                                   scan_table)
from mlsecops.controls.data.provenance import collect_source
from mlsecops.core.errors import SignatureError
from mlsecops.stages.framework import Stage, StageContext, StageResult


def source_table(ctx: StageContext) -> tuple[pd.DataFrame, dict]:
    """The source raw_data collected, read again and checked against its digest (validation passed on it)."""
    ctx.upstream("validated_data")
    source = ctx.upstream("raw_data").data["source"]
    frame, manifest = collect_source(Path(source["path"]), ctx.spec.schema.column_names,
                                     max_bytes=ctx.policy.source.max_bytes, encoding=ctx.policy.source.encoding)
    if manifest["sha256"] != source["sha256"]:
        raise SignatureError(f"source {source['path']} changed since raw_data collected it "
                             f"(sha256 {manifest['sha256'][:12]}… != {source['sha256'][:12]}…): re-run the pipeline")
    return frame, {"step": "raw_data", "sha256": source["sha256"], "rows": manifest["rows"]}


def run_redacted_data(ctx: StageContext) -> StageResult:
    config = ctx.policy.pii
    frame, table = source_table(ctx)
    identity, free_text = declared_columns(ctx)
    # The label and declared-vocabulary categoricals are closed sets: validation admits only the values
    # listed (and reviewed) in the spec, so they carry no unforeseen PII and are not rewritten.
    closed = [c.name for c in ctx.spec.schema.columns
              if c.name in frame.columns and (c.role == "label" or (c.role == "categorical" and c.values))
              and not pd.api.types.is_numeric_dtype(frame[c.name])]
    kept = frame[closed]
    frame = frame.drop(columns=closed)

    def progress(column: str, done: int, total: int) -> None:
        if done == total:
            ctx.log.info(f"pii scan: column '{column}' {total} value(s) analyzed")

    scan = scan_table(frame, config, identity_columns=identity, free_text_columns=free_text, progress=progress)
    key = pseudonym_key(ctx.home.keys, config.key_name)
    clean, redaction = redact_table(frame, scan, config, key)
    del frame  # the raw table goes no further than this function
    rescan = scan_table(clean, config, identity_columns=identity, free_text_columns=free_text)
    evidence = {**build_evidence(scan, redaction, rescan, config), "closed_vocabulary_columns": closed}
    clean = pd.concat([clean, kept.loc[clean.index]], axis=1)
    out = ctx.write_table("redacted_data", clean)
    remaining = evidence["rescan"]["remaining_findings"]
    summary = (f"{len(scan.pii_columns())} PII column(s), {len(redaction.dropped)} dropped, "
               f"{scan.findings()} finding(s) redacted, {remaining} remaining")
    return StageResult(
        {"pii": evidence, "dataset": {"step": table["step"], "sha256": table["sha256"]}, "outputs": {"table": out}},
        summary=summary,
        metadata={"pii_columns": scan.pii_columns(), "dropped_columns": redaction.dropped,
                  "unexpected_columns": scan.unexpected_columns(), "findings": scan.findings(),
                  "remaining_findings": remaining, "key_fingerprint": redaction.key_fingerprint or "n/a",
                  "nlp_engine": scan.engine["nlp_engine"], "table_sha256": out["sha256"]})


REDACTED_DATA = Stage(
    "redacted_data",
    "Offline PII scan (Presidio, census/GeoNames recognizers), per-entity redaction, rescan of the output.",
    ("validated_data",), run_redacted_data,
    (NO_UNREDACTED_PII, NO_UNEXPECTED_PII, IDENTITY_COLUMNS_NOT_IN_FEATURES),
    kinds=("presidio", "parquet"))
