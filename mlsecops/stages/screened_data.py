"""The `screened_data` stage: poison screen against the pipeline's trusted reference slice.

    spec = PipelineSpec(..., reference=ReferenceSlice("patients.reference.csv", make=..., sha256="…"))
    stage = screened_data_stage(after="validated_data")     # trained_model then depends on it
    config = screen_config(policy)                           # the policy's cuts as a ScreenConfig

The trusted slice is a small curated table (feature + label columns) declared in the spec; its
sha256 is pinned there (a changed slice stops the stage) and recorded in the evidence. The stage
writes the kept rows as the table training reads, the quarantined rows (full content) as a second
Parquet table, and a `quarantine` evidence document listing every flagged row with its signals,
votes and reason, plus the black swans it kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mlsecops.checks.data import BACKDOOR_TRIGGER, POISONING_SCREEN
from mlsecops.controls.data.integrity.poisoning import ScreenConfig, describe_campaign, screen_table
from mlsecops.core.encoding import prepare_table
from mlsecops.core.errors import SignatureError, SourceError
from mlsecops.core.fileio import atomic_path, sha256_file
from mlsecops.stages.framework import ReferenceSlice, Stage, StageContext, StageResult
from mlsecops.policy import Policy

__all__ = ["ReferenceSlice", "reference_positions", "screen_config", "screened_data_stage", "write_reference"]

REFERENCE_FRACTION = 0.12
REFERENCE_SEED = 1234


def reference_positions(labels: np.ndarray, fraction: float = REFERENCE_FRACTION,
                        seed: int = REFERENCE_SEED) -> np.ndarray:
    """Row positions of a stratified, seeded trusted slice of a reference dataset."""
    idx = np.arange(len(labels))
    _, chosen = train_test_split(idx, test_size=fraction, random_state=seed, stratify=labels)
    return np.sort(chosen)


def write_reference(frame: pd.DataFrame, columns: list[str], label: str, path: Path) -> None:
    """Write the trusted slice of `frame` (only `columns` + label; never identities) atomically."""
    rows = reference_positions(frame[label].to_numpy())
    with atomic_path(path) as tmp:
        frame.iloc[rows][[*columns, label]].to_csv(tmp, index=False)


def screen_config(policy: Policy) -> ScreenConfig:
    p = policy.poisoning
    return ScreenConfig(**p.model_dump(exclude={"max_flagged_fraction", "max_trigger_fraction"}))


def load_reference(ctx: StageContext) -> tuple[pd.DataFrame, dict[str, object]]:
    declared = ctx.spec.reference
    if declared is None:
        raise SourceError(f"pipeline '{ctx.spec.name}' declares no trusted reference slice: "
                          "set PipelineSpec.reference to screen its data")
    path = ctx.home.sources / declared.file
    if not path.exists() and ctx.seed_sources and declared.make is not None:
        ctx.log.info(f"writing the trusted reference slice {path}")
        declared.make(path)
    if not path.exists():
        raise SourceError(f"trusted reference slice {path} is missing")
    digest = sha256_file(path)
    if declared.sha256 and digest != declared.sha256:
        raise SignatureError(f"trusted reference slice {path} has sha256 {digest[:12]}…, but pipeline "
                             f"'{ctx.spec.name}' pins {declared.sha256[:12]}…: restore the curated slice")
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"trusted reference slice {path} is unreadable: {exc}") from None
    return frame, {"path": str(path), "sha256": digest, "rows": int(len(frame)),
                   "pinned": declared.sha256 is not None}


def _screened_data(ctx: StageContext) -> StageResult:
    schema = ctx.spec.schema
    reference, ref_record = load_reference(ctx)       # first: a tampered trusted slice stops everything
    reference, _ = prepare_table(reference, schema, origin=ref_record["path"])
    frame, table = ctx.input_table("screened_data")
    frame, encoding = prepare_table(frame, schema, origin=f"{table['step']} table")  # one-hot, labels 0..k-1
    report = screen_table(frame, reference, features=schema.features, label=schema.label,
                          config=screen_config(ctx.policy))
    quarantine = report.to_dict()
    kept = ctx.write_table("screened_data", frame[report.keep_mask])
    qpath = ctx.workdir("screened_data") / "quarantine.parquet"
    with atomic_path(qpath) as tmp:
        frame[~report.keep_mask].assign(quarantine_row=np.flatnonzero(~report.keep_mask)).to_parquet(tmp, index=False)
    quarantine["table"] = {"path": str(qpath), "sha256": sha256_file(qpath), "rows": len(report.flagged)}
    quarantine["reference"] = ref_record
    quarantine["input"] = {"step": table["step"], "sha256": table["sha256"], "rows": table["rows"]}
    summary = (f"{len(report.flagged)} of {report.rows} rows quarantined ({report.flagged_fraction:.1%}), "
               f"{len(report.black_swans)} black swans kept, {report.seconds:.1f} s")
    if report.triggers:
        summary += f", trigger suspected on {', '.join(report.triggers[0]['columns'][:4])}"
    for campaign in report.campaigns:
        summary += f", {describe_campaign(campaign)}"
    quarantine["summary"] = summary
    qref = ctx.store.write(ctx.spec.name, ctx.run_id, "quarantine", quarantine)
    ctx.tracker.log_file(ctx.mlflow_run(), qref.path, "evidence")
    screen = {k: quarantine[k] for k in ("rows", "flagged_count", "flagged_fraction", "kept_rows", "black_swan_count",
                                          "trigger_fraction", "triggers", "campaigns", "cuts", "seconds",
                                          "by_class")}
    return StageResult(
        {"quarantine": {"sha256": qref.sha256, "run_id": ctx.run_id, "flagged_ids": report.flagged_ids,
                        "table": quarantine["table"]},
         "reference": ref_record, "screen": screen, "encoding": encoding, "outputs": {"table": kept}},
        summary=summary,
        metadata={"flagged": len(report.flagged), "flagged_fraction": round(report.flagged_fraction, 4),
                  "black_swans": len(report.black_swans), "kept_rows": int(report.keep_mask.sum()),
                  "reference_sha256": ref_record["sha256"], "quarantine_sha256": qref.sha256,
                  "quarantine_ids": report.flagged_ids[:200], "table_sha256": kept["sha256"],
                  "screen_seconds": round(report.seconds, 2)})


def screened_data_stage(after: str) -> Stage:
    """The stage, reading the table of stage `after` (the redaction stage, or validation before it)."""
    return Stage(
        "screened_data",
        "Poison screen vs the trusted reference slice (RONI + label consistency + spectral signatures); "
        "quarantines flagged rows, keeps black swans.",
        (after,), _screened_data,
        (POISONING_SCREEN, BACKDOOR_TRIGGER),
        kinds=("parquet",))
