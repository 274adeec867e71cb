"""What a pipeline is: a dataset schema, a model, and an ordered chain of stages with checks.

    spec = PipelineSpec(name="patients", schema=..., stages=standard_stages(), ...)
    assets, checks = build_pipeline(spec)          # mlsecops.assets.factory

A stage's `run(ctx)` does the work with plain controls and returns a `StageResult`; the factory
writes it as the step's evidence and shows it in Dagster. A `CheckSpec.evaluate(view, policy)` is
a pure function of the evidence, so the Dagster check and the promotion step run the same code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from mlsecops.controls.audit.postgres import open_home_audit_log
from mlsecops.controls.audit.log import AuditLog
from mlsecops.core.outcome import CheckOutcome
from mlsecops.checks.spec import CheckSpec, EvidenceView
from mlsecops.trust.keyring import KeyRing
from mlsecops.core.errors import EvidenceError
from mlsecops.core.evidence import Evidence, EvidenceRef, EvidenceStore
from mlsecops.core.fileio import atomic_path, sha256_file
from mlsecops.core.home import Home
from mlsecops.policy import Policy, load_policy
from mlsecops.core.schema import TableSchema
from mlsecops.core.tracking import Tracker


@dataclass
class StageResult:
    """A stage's evidence (`data`), its UI metadata and the one-line key figure for the CLI."""

    data: dict[str, Any]
    summary: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One step of the chain: an asset `<pipeline>/<name>` with its checks."""

    name: str
    description: str
    deps: tuple[str, ...]
    run: Callable[["StageContext"], StageResult]
    checks: tuple[CheckSpec, ...] = ()
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReferenceSlice:
    """A trusted, curated slice for the poisoning screen: `file` under sources (or absolute), written by `make` if absent."""

    file: str
    make: Callable[[Path], None] | None
    sha256: str | None = None        # the pinned digest; None records it without pinning


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    description: str
    schema: TableSchema
    source_file: str                                  # under MLSECOPS_HOME/sources, or an absolute path
    make_source: Callable[[Path], None] | None       # writes the source when absent (reference pipelines)
    net: dict[str, Any]
    stages: tuple[Stage, ...]
    reference: ReferenceSlice | None = None
    policy: dict[str, Any] = field(default_factory=dict)   # the spec file's policy values (see pipelines.spec_file)
    origin: dict[str, Any] = field(default_factory=dict)   # spec file, its sha256, model code digest, accepted risks

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"pipeline '{self.name}' has no stage '{name}'")


class StageContext(EvidenceView):
    """Everything a stage needs: policy, paths, evidence, MLflow, keys and a logger."""

    def __init__(self, spec: PipelineSpec, policy: Policy, home: Home, run_id: str, tracker: Tracker,
                 log: logging.Logger | Any, seed_sources: bool = True) -> None:
        super().__init__(spec, EvidenceStore(home.evidence), KeyRing(home.keys))
        self.policy = policy
        self.home = home
        self.run_id = run_id
        self.tracker = tracker
        self.log = log
        self.seed_sources = seed_sources
        self.used: dict[str, str] = {}
        self._mlflow_run: str | None = None
        self._audit: AuditLog | None = None

    @property
    def audit(self) -> AuditLog:
        """The append-only decision log under MLSECOPS_HOME (opened on first use)."""
        if self._audit is None:  # Postgres if MLSECOPS_AUDIT_URL
            self._audit = open_home_audit_log(self.home, self.policy.audit.checkpoint_every)
        return self._audit

    @property
    def source_path(self) -> Path:
        return self.home.sources / self.spec.source_file

    def upstream(self, step: str) -> Evidence:
        """The latest verified evidence of `step`, remembered as an input of this stage."""
        ev = self.evidence(step)
        self.used[step] = ev.ref.sha256
        return ev

    def workdir(self, step: str) -> Path:
        path = self.home.artifacts / self.spec.name / self.run_id / step
        path.mkdir(parents=True, exist_ok=True)
        return path

    def mlflow_run(self) -> str:
        if self._mlflow_run is None:
            self._mlflow_run = self.tracker.run_for(self.spec.name, self.run_id)
        return self._mlflow_run

    def write_table(self, step: str, frame: pd.DataFrame) -> dict[str, Any]:
        """Write a Parquet table atomically; return its {path, sha256, rows} record."""
        path = self.workdir(step) / "table.parquet"
        with atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)
        return {"path": str(path), "sha256": sha256_file(path), "rows": int(len(frame))}

    def input_table(self, step: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        """The table the nearest upstream data stage wrote (after checking its digest) and its record."""
        current = self.spec.stage(step).deps[0]
        while True:
            ev = self.upstream(current)
            table = ev.data.get("outputs", {}).get("table")
            if table:
                break
            deps = self.spec.stage(current).deps
            if not deps:
                raise EvidenceError(f"no upstream of '{step}' in pipeline '{self.spec.name}' produced a table")
            current = deps[0]
        path = Path(table["path"])
        if not path.exists():
            raise EvidenceError(f"table {path} recorded by '{current}' is missing")
        actual = sha256_file(path)
        if actual != table["sha256"]:
            raise EvidenceError(f"table {path} recorded by '{current}' was altered: sha256 {actual[:12]}… "
                                f"!= recorded {table['sha256'][:12]}…")
        return pd.read_parquet(path), {**table, "step": current}

    def run_check(self, stage: Stage, check: CheckSpec) -> tuple[CheckOutcome, EvidenceRef]:
        """Evaluate a check, write its `check.<name>` evidence and append it to the audit log."""
        outcome = check.evaluate(self, self.policy)
        ref = self.store.write(self.spec.name, self.run_id, f"check.{check.name}",
                               {**outcome.to_dict(), "stage": stage.name,
                                "stage_evidence": self.store.latest_ref(self.spec.name, stage.name).sha256})
        self.audit.append("check", pipeline=self.spec.name, actor="pipeline", subject=None,
                          data={**outcome.to_dict(), "stage": stage.name, "run_id": self.run_id,
                                "evidence": ref.sha256})
        return outcome, ref

    def record(self, stage: Stage, result: StageResult) -> EvidenceRef:
        """Write the stage's evidence (with the digests of its inputs) and log it to MLflow."""
        inputs = {dep: self.used.get(dep) or self.store.latest_ref(self.spec.name, dep).sha256
                  for dep in stage.deps}
        data = {**result.data, "summary": result.summary, "inputs": inputs,
                "policy_sha256": self.policy.digest}
        ref = self.store.write(self.spec.name, self.run_id, stage.name, data)
        self.tracker.log_file(self.mlflow_run(), ref.path, "evidence")
        return ref


def open_context(spec: PipelineSpec, run_id: str, log: logging.Logger | Any, *, home: Home | None = None,
                 policy: Policy | None = None, tracking_uri: str = "", seed_sources: bool = True) -> StageContext:
    """A StageContext on `home` (default: MLSECOPS_HOME) with the policy in force for the pipeline."""
    home = (home or Home.from_env()).ensure()
    policy = (policy or load_policy()).for_pipeline(spec.name)
    tracker = Tracker.for_home(home, tracking_uri)
    return StageContext(spec, policy, home, run_id, tracker, log, seed_sources=seed_sources)
