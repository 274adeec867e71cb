"""The discretion stage through Dagster: the patients run redacts and promotes without leaking a raw
value anywhere it writes; PII hidden in an undeclared column blocks training and promotion."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dagster as dg
import pandas as pd

from mlsecops.pipelines.patients import IDENTITY, PATIENTS, make_frame
from mlsecops.core.schema import Column, TableSchema
from tests.conftest import PRE_PROMOTION, Env, approve, check_results, materialized, step_failures


def _raw_values(frame: pd.DataFrame) -> set[str]:
    return {str(v) for column in IDENTITY for v in frame[column].dropna()}


def _leaks(path: Path, values: set[str]) -> set[str]:
    if path.suffix == ".parquet":
        text = "\n".join(pd.read_parquet(path).astype(str).to_numpy().ravel())
        return {v for v in values if v in text}
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # a SQLite -wal/-shm file removed since the listing
        return set()
    return {v for v in values if v.encode() in data}


def test_patients_run_redacts_promotes_and_writes_no_raw_pii(env: Env) -> None:
    result = env.run("patients", PRE_PROMOTION)
    assert result.success, step_failures(result)
    approve(env, "patients")  # the release approval promotion requires
    promoted = env.run("patients", ["promotion"])
    assert promoted.success, step_failures(promoted)
    checks = check_results(result)
    assert checks["no_unredacted_pii"] and checks["no_unexpected_pii"] and checks["identity_columns_not_in_features"]
    assert env.tracker().alias_version("patients", "production") == "1"

    store = env.store()
    pii = store.latest("patients", "redacted_data").data["pii"]
    assert set(pii["redaction"]["dropped"]) == set(IDENTITY)
    assert pii["scan"]["columns"]["clinical_note"]["kind"] == "free_text"
    assert pii["rescan"]["remaining_findings"] == 0
    assert store.latest("patients", "trained_model").data["dataset"]["step"] == "screened_data"
    assert store.latest("patients", "quarantine").data["input"]["step"] == "redacted_data"  # screened after redaction

    raw = _raw_values(make_frame())
    root = env.home.root
    assert not list(root.glob("artifacts/patients/*/validated_data/*"))  # no unredacted copy of the source
    assert _leaks(env.home.sources / "patients.csv", raw)     # the search does find values where they are
    written = [p for p in root.rglob("*") if p.is_file()
               and not p.is_relative_to(env.home.sources)       # the source itself
               and not p.is_relative_to(env.home.keys)]
    assert any(p.name == "mlflow.db" for p in written)
    assert any(p.is_relative_to(root / "mlartifacts") for p in written)
    assert any(p.is_relative_to(root / "dagster-instance") for p in written)
    assert any("redacted_data" in p.parts and p.suffix == ".parquet" for p in written)
    leaks = {str(p.relative_to(root)): sorted(_leaks(p, raw))[:3] for p in written}
    assert {p: v for p, v in leaks.items() if v} == {}

    key = (env.home.keys / "pii-hmac.key").read_text().strip()
    assert not any(key.encode() in p.read_bytes() for p in written if p.exists())  # SQLite -shm files come and go


def _intake_spec():
    schema = TableSchema("intake", PATIENTS.schema.columns + (
        Column("comments", "text", "metadata"), Column("member_ref", "text", "metadata")), PATIENTS.schema.labels)

    def write_source(path: Path) -> None:
        frame = make_frame()
        frame["comments"] = ["see chart" if i % 3 else f"please reply to {e}" for i, e in enumerate(frame["email"])]
        frame["member_ref"] = frame["ssn"]
        frame.to_csv(path, index=False)

    return replace(PATIENTS, name="intake", schema=schema, source_file="intake.csv", make_source=write_source)


def test_pii_in_an_undeclared_column_blocks_training_and_promotion(env: Env) -> None:
    from mlsecops.assets.factory import build_pipeline

    spec = _intake_spec()
    assets, checks, job = build_pipeline(spec)
    defs = dg.Definitions(assets=assets, asset_checks=checks, jobs=[job], resources=env.defs.resources)
    job_def = defs.resolve_job_def("intake_pipeline")
    keys = [dg.AssetKey(["intake", s]) for s in ("raw_data", "validated_data", "redacted_data", "trained_model")]
    result = job_def.execute_in_process(instance=env.instance, raise_on_error=False, asset_selection=keys)
    assert check_results(result) == {"validation_suite": True, "no_unredacted_pii": True,
                                     "no_unexpected_pii": False, "identity_columns_not_in_features": True}
    assert "trained_model" not in materialized(result)
    failed = env.store().latest("intake", "check.no_unexpected_pii").data
    assert "comments (EMAIL_ADDRESS)" in failed["detail"] and "member_ref (US_SSN)" in failed["detail"]
    assert failed["value"] == 2 and "@" not in failed["detail"]

    result = job_def.execute_in_process(instance=env.instance, raise_on_error=False,
                                        asset_selection=[dg.AssetKey(["intake", "promotion"])])
    assert "no_unexpected_pii" in step_failures(result)["promotion"]
