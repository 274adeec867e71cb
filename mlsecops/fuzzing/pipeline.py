"""Fuzz a pipeline's training data: the harness of `controls/fuzzing.py` on the pipeline's own
source, trusted slice, model architecture and policy (used by `mlsecops fuzz` and the Dagster job).

    result = fuzz_pipeline("digits", attacks=["backdoor"], rates=[0.05], seed=0, home=Home.from_env())
    result.report, result.json_path, result.png_path
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
from sklearn.model_selection import train_test_split

from mlsecops.fuzzing.harness import FuzzReport, plot_report, run_fuzz, torch_trainer
from mlsecops.core.errors import SourceError
from mlsecops.core.fileio import write_json_atomic
from mlsecops.core.home import Home
from mlsecops.models.training import train_config
from mlsecops.controls.data.provenance import read_table
from mlsecops.core.encoding import prepare_table
from mlsecops.pipelines.registry import get_pipeline
from mlsecops.stages.screened_data import screen_config
from mlsecops.policy import Policy, load_policy


@dataclass
class FuzzResult:
    report: FuzzReport
    json_path: Path
    png_path: Path


def fuzz_frames(source: pd.DataFrame, reference: pd.DataFrame, features: list[str], label: str,
                test_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidates and test rows from the source, minus the rows that are in the trusted slice."""
    cols = [*features, label]
    marked = source[cols].merge(reference[cols].drop_duplicates(), on=cols, how="left", indicator=True)
    rest = source[cols][(marked["_merge"] == "left_only").to_numpy()].reset_index(drop=True)
    if len(rest) < 50:
        raise SourceError(f"only {len(rest)} source rows lie outside the trusted slice: too few to fuzz")
    train, test = train_test_split(rest, test_size=test_fraction, random_state=seed, stratify=rest[label])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def fuzz_pipeline(pipeline: str, *, attacks: Sequence[str], rates: Sequence[float], seed: int = 0,
                  home: Home | None = None, policy: Policy | None = None, out_dir: Path | None = None,
                  progress: Callable[[str], None] | None = None) -> FuzzResult:
    spec = get_pipeline(pipeline)
    home = (home or Home.from_env()).ensure()
    policy = (policy or load_policy()).for_pipeline(pipeline)
    source_path = home.sources / spec.source_file
    if not source_path.exists():
        if spec.make_source is None:
            raise SourceError(f"source {source_path} of pipeline '{pipeline}' is missing")
        spec.make_source(source_path)
    if spec.reference is None:
        raise SourceError(f"pipeline '{pipeline}' declares no trusted reference slice to screen against")
    ref_path = home.sources / spec.reference.file
    if not ref_path.exists():
        if spec.reference.make is None:
            raise SourceError(f"trusted reference slice {ref_path} of pipeline '{pipeline}' is missing")
        spec.reference.make(ref_path)
    schema = spec.schema
    source, _ = prepare_table(read_table(source_path, max_bytes=policy.source.max_bytes)[0], schema,
                              origin=str(source_path))   # one-hot, imputed, label positions: as screened_data
    reference, _ = prepare_table(pd.read_csv(ref_path), schema, origin=str(ref_path))
    t = policy.training
    train, test = fuzz_frames(source, reference, schema.features, schema.label, t.test_fraction, seed)
    cfg = train_config(t)
    net = {**spec.net, "in_features": len(schema.features), "classes": len(schema.labels)}
    report = run_fuzz(train, test, reference, features=schema.features, label=schema.label,
                      trainer=torch_trainer(net, cfg), attacks=attacks, rates=rates, seed=seed,
                      screen_config=screen_config(policy), pipeline=pipeline, progress=progress)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = out_dir or home.artifacts / pipeline / "fuzz" / f"{stamp}-seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "fuzz.json"
    write_json_atomic(json_path, {**report.to_dict(), "policy_sha256": policy.digest, "created_at": stamp})
    png_path = plot_report(report, out / "fuzz.png")
    return FuzzResult(report, json_path, png_path)
