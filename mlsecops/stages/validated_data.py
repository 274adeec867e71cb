"""`validated_data`: the Great Expectations suite over the source; gate `validation_suite`.

It writes no table: the first table a pipeline writes is the redacted one (no unredacted copy persists).
"""

from __future__ import annotations

from pathlib import Path

from mlsecops.checks.data import VALIDATION_SUITE
from mlsecops.controls.data.provenance import collect_source
from mlsecops.controls.data.validation import validate_table
from mlsecops.core.errors import SignatureError
from mlsecops.stages.framework import Stage, StageContext, StageResult


def _validated_data(ctx: StageContext) -> StageResult:
    source = ctx.upstream("raw_data").data["source"]
    frame, manifest = collect_source(Path(source["path"]), ctx.spec.schema.column_names,
                                     max_bytes=ctx.policy.source.max_bytes, encoding=ctx.policy.source.encoding)
    if manifest["sha256"] != source["sha256"]:
        raise SignatureError(f"source {source['path']} changed since raw_data collected it "
                             f"(sha256 {manifest['sha256'][:12]}… != {source['sha256'][:12]}…): re-run raw_data")
    report = validate_table(frame, ctx.spec.schema, min_rows=ctx.policy.validation.min_rows,
                            max_null_fraction=ctx.policy.validation.max_null_fraction)
    del frame  # no unredacted copy is written: redacted_data reads the source again, by its digest
    status = "passed" if report["success"] else f"FAILED ({len(report['failed'])})"
    return StageResult({"validation": report, "dataset": {"step": "raw_data", "sha256": source["sha256"]}},
                       summary=f"GX suite {status}, {report['evaluated']} expectations",
                       metadata={"expectations": report["evaluated"], "failed": len(report["failed"]),
                                 "source_sha256": source["sha256"]})


VALIDATED_DATA = Stage("validated_data", "Great Expectations suite: schema, types, ranges, nulls, label set.",
                       ("raw_data",), _validated_data,
                       (VALIDATION_SUITE,),
                       kinds=("great_expectations",))
