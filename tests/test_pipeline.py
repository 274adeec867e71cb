"""End to end through Dagster with real MLflow (sqlite) and real signing: the promotion gate."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mlsecops.pipelines.patients import make_frame
from tests.conftest import PRE_PROMOTION, Env, approve, check_results, make_env, materialized, step_failures


def _mlflow_model_file(env: Env, pipeline: str, version: str) -> Path:
    mv = env.tracker().version(pipeline, version)
    return Path(mv.source.removeprefix("file://")) / "model.safetensors"


def test_clean_run_promotes_and_tampered_weights_are_refused(env: Env) -> None:
    result = env.run("patients")
    assert materialized(result) == {"raw_data", "validated_data", "redacted_data", "screened_data", "trained_model",
                                    "model_scan", "signed_model", "adversarial_evaluation", "risk_report"}
    assert all(check_results(result).values()) and len(check_results(result)) == 16
    assert "no approval on file" in step_failures(result)["promotion"]
    assert env.store().latest("patients", "promotion").data["awaiting_approval"] is True
    tracker = env.tracker()
    assert tracker.alias_version("patients", "production") is None

    approve(env, "patients")
    result = env.run("patients", ["promotion"])
    assert result.success, step_failures(result)
    assert tracker.alias_version("patients", "production") == "1"

    decision = env.store().latest("patients", "promotion").data["decision"]
    assert decision["promoted"] and decision["version"] == "1"
    assert {c["check"] for c in decision["checks"]} == {"validation_suite", "no_unredacted_pii", "no_unexpected_pii",
                                                       "identity_columns_not_in_features", "poisoning_screen",
                                                       "backdoor_trigger", "model_quality",
                                                       "artifact_safe", "signature_verifies", "provenance_verified",
                                                       "robust_accuracy", "query_evasion", "membership_inference",
                                                       "model_extraction", "report_risk_acceptance",
                                                       "report_framework_coverage"}

    # Retrain (version 2) without promoting, then flip one byte of the registered weights.
    result = env.run("patients", PRE_PROMOTION)
    assert result.success, step_failures(result)
    approve(env, "patients")
    weights = _mlflow_model_file(env, "patients", "2")
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))

    result = env.run("patients", ["promotion"])  # solo materialization: no upstream checks run
    assert not result.success
    message = step_failures(result)["promotion"]
    assert "refused" in message and "model.safetensors" in message
    assert tracker.alias_version("patients", "production") == "1"
    refusal = env.store().latest("patients", "promotion").data
    assert refusal["promoted"] is False and refusal["reasons"]


def test_data_failing_the_suite_stops_training_and_promotion(env: Env) -> None:
    frame = make_frame()
    frame.loc[3, "mean_radius"] = None          # a null feature
    frame.loc[5, "label"] = 7                   # a label outside the set
    env.home.sources.mkdir(parents=True, exist_ok=True)
    frame.to_csv(env.home.sources / "patients.csv", index=False)

    result = env.run("patients")
    assert check_results(result) == {"validation_suite": False}
    assert "trained_model" not in materialized(result) and "promotion" not in materialized(result)
    failed = env.store().latest("patients", "check.validation_suite").data
    assert "mean_radius" in failed["detail"] and "label" in failed["detail"]

    result = env.run("patients", ["promotion"])  # cannot bypass the failed check
    assert not result.success
    assert "validation_suite" in step_failures(result)["promotion"]
    assert env.tracker().alias_version("patients", "production") is None


def test_solo_promotion_after_a_failed_newer_run_is_refused(env: Env) -> None:
    assert env.run("patients", PRE_PROMOTION).success
    frame = make_frame()
    frame.loc[0, "label"] = 3
    frame.to_csv(env.home.sources / "patients.csv", index=False)
    assert not check_results(env.run("patients", ["raw_data", "validated_data"]))["validation_suite"]
    result = env.run("patients", ["promotion"])
    message = step_failures(result)["promotion"]
    assert "older 'validated_data'" in message or "validation_suite" in message


def test_bad_sources_fail_with_a_clear_reason(tmp_path: Path) -> None:
    env = make_env(tmp_path / "home", seed_sources=False)
    source = env.home.sources / "patients.csv"
    cases = {
        "not found": None,
        "is empty (0 bytes)": b"",
        "not valid utf-8: byte 0xff at offset 5": b"name,\xff\xfe\n1,2\n",
        "missing columns": make_frame().drop(columns=["ssn", "mean_area"]).to_csv(index=False).encode(),
        "has a header but no rows": (",".join(make_frame().columns) + "\n").encode(),
    }
    for expected, content in cases.items():
        source.unlink(missing_ok=True)
        if content is not None:
            source.write_bytes(content)
        result = env.run("patients")
        message = step_failures(result).get("raw_data", "")
        assert expected in message, (expected, message)
        assert str(source) in message
        assert "trained_model" not in materialized(result)


def test_no_pickled_asset_outputs(env: Env) -> None:
    assert env.run("digits", PRE_PROMOTION).success
    approve(env, "digits")
    assert env.run("digits", ["promotion"]).success
    storage = Path(env.instance.storage_directory())
    pickled = [p for p in storage.rglob("*") if p.is_file() and "digits" in p.parts]
    assert pickled == [], f"asset outputs were written by an IO manager: {pickled}"
    for doc in env.home.evidence.rglob("*.json"):
        json.loads(doc.read_text())  # every evidence document is JSON
    model_files = {p.name for p in env.home.artifacts.rglob("model/*")}
    assert model_files == {"model.safetensors", "model.json"}
