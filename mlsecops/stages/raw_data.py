"""`raw_data`: collect the source (path, sha256, size, rows, columns, newest record); no check."""

from __future__ import annotations

from mlsecops.controls.data.provenance import collect_source
from mlsecops.stages.framework import Stage, StageContext, StageResult


def _raw_data(ctx: StageContext) -> StageResult:
    path = ctx.source_path
    if not path.exists() and ctx.seed_sources and ctx.spec.make_source is not None:
        ctx.log.info(f"writing the source {path}")
        ctx.spec.make_source(path)
    _, manifest = collect_source(path, ctx.spec.schema.column_names, max_bytes=ctx.policy.source.max_bytes,
                                 timestamp_column=ctx.spec.schema.timestamp, encoding=ctx.policy.source.encoding)
    return StageResult({"source": manifest, "spec": ctx.spec.origin},
                       summary=f"{manifest['rows']} rows, sha256 {manifest['sha256'][:12]}",
                       metadata={"rows": manifest["rows"], "source_sha256": manifest["sha256"],
                                 "newest_record": manifest["newest_record"] or "n/a"})


RAW_DATA = Stage("raw_data", "Collect the source: path, sha256, size, rows, columns, newest record.",
                 (), _raw_data, kinds=("csv",))
