"""The standard stages every pipeline runs, in order; later controls insert themselves here.

    stages = standard_stages()     # raw_data -> validated_data -> redacted_data -> screened_data -> trained_model
    #                                -> model_scan -> signed_model -> adversarial_evaluation -> risk_report -> promotion
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from mlsecops.controls.outcome import MODEL_DEPLOYMENT, MODEL_TRAINING, CheckOutcome
from mlsecops.controls.provenance import collect_source
from mlsecops.controls.signing import sign_model, verify_trusted
from mlsecops.controls.validation import evaluate_validation, validate_table
from mlsecops.errors import SignatureError
from mlsecops.fileio import folder_digest
from mlsecops.models.training import save_model_folder, train_classifier, train_config
from mlsecops.pipelines import promotion as promotion_control
from mlsecops.pipelines.adversarial import TABULAR_ATTACKS, adversarial_stage
from mlsecops.pipelines.discretion import REDACTED_DATA
from mlsecops.pipelines.report_stage import REPORT_STEP, risk_report_stage
from mlsecops.pipelines.screening import screened_data_stage
from mlsecops.pipelines.spec import CheckSpec, EvidenceView, Stage, StageContext, StageResult
from mlsecops.pipelines.supply_chain import MODEL_SCAN, PROVENANCE_VERIFIED, attest
from mlsecops.policy import Policy


# -- raw_data -----------------------------------------------------------------------------------
def _raw_data(ctx: StageContext) -> StageResult:
    path = ctx.source_path
    if not path.exists() and ctx.seed_sources:
        ctx.log.info(f"writing the reference source {path}")
        ctx.spec.make_source(path)
    _, manifest = collect_source(path, ctx.spec.schema.column_names, max_bytes=ctx.policy.source.max_bytes,
                                 timestamp_column=ctx.spec.schema.timestamp, encoding=ctx.policy.source.encoding)
    return StageResult({"source": manifest},
                       summary=f"{manifest['rows']} rows, sha256 {manifest['sha256'][:12]}",
                       metadata={"rows": manifest["rows"], "source_sha256": manifest["sha256"],
                                 "newest_record": manifest["newest_record"] or "n/a"})


# -- validated_data -----------------------------------------------------------------------------
def _validated_data(ctx: StageContext) -> StageResult:
    source = ctx.upstream("raw_data").data["source"]
    frame, manifest = collect_source(Path(source["path"]), ctx.spec.schema.column_names,
                                     max_bytes=ctx.policy.source.max_bytes, encoding=ctx.policy.source.encoding)
    if manifest["sha256"] != source["sha256"]:
        raise SignatureError(f"source {source['path']} changed since raw_data collected it "
                             f"(sha256 {manifest['sha256'][:12]}… != {source['sha256'][:12]}…): re-run raw_data")
    report = validate_table(frame, ctx.spec.schema, min_rows=ctx.policy.validation.min_rows,
                            max_null_fraction=ctx.policy.validation.max_null_fraction)
    table = ctx.write_table("validated_data", frame)
    status = "passed" if report["success"] else f"FAILED ({len(report['failed'])})"
    return StageResult({"validation": report, "outputs": {"table": table}},
                       summary=f"GX suite {status}, {report['evaluated']} expectations",
                       metadata={"expectations": report["evaluated"], "failed": len(report["failed"]),
                                 "table_sha256": table["sha256"]})


def _check_validation(view: EvidenceView, policy: Policy) -> CheckOutcome:
    return evaluate_validation(view.data("validated_data")["validation"])


# -- trained_model ------------------------------------------------------------------------------
def _trained_model(ctx: StageContext) -> StageResult:
    schema = ctx.spec.schema
    frame, table = ctx.input_table("trained_model")
    features = schema.features
    X = frame[features].to_numpy(dtype=np.float32)
    y = frame[schema.label].to_numpy(dtype=np.int64)
    cfg = train_config(ctx.policy.training)
    net_config = {**ctx.spec.net, "in_features": len(features), "classes": len(schema.labels)}
    ctx.log.info(f"training {net_config['architecture']} on {len(frame)} rows x {len(features)} features")
    result = train_classifier(X, y, net_config, cfg)
    folder = ctx.workdir("trained_model") / "model"
    save_model_folder(result.net, net_config, folder,
                      {"pipeline": ctx.spec.name, "features": features, "classes": list(schema.labels),
                       "label": schema.label, "train_config": cfg.__dict__})
    digest = folder_digest(folder)
    run = ctx.mlflow_run()
    ctx.tracker.log_params(run, {**cfg.__dict__, "architecture": net_config["architecture"],
                                 "n_features": len(features)})
    ctx.tracker.log_metrics(run, {k: v for k, v in result.metrics.items()})
    ctx.tracker.set_tags(run, {"mlsecops.model_sha256": digest, "mlsecops.dataset_sha256": table["sha256"]})
    ctx.tracker.log_folder(run, folder, "model")
    version = ctx.tracker.register(ctx.spec.name, run, "model")
    m = result.metrics
    return StageResult(
        {"model": {"path": str(folder), "sha256": digest, "features": features},
         "dataset": {"step": table["step"], "sha256": table["sha256"], "rows": table["rows"]},
         "metrics": m, "train_config": cfg.__dict__,
         "mlflow": {"run_id": run, "registered_model": ctx.spec.name, "version": version}},
        summary=f"test accuracy {m['test_accuracy']:.3f}, F1 {m['test_f1_macro']:.3f}, version {version}",
        metadata={"test_accuracy": m["test_accuracy"], "test_f1_macro": m["test_f1_macro"],
                  "model_sha256": digest, "mlflow_run_id": run, "model_version": version})


def _check_model_quality(view: EvidenceView, policy: Policy) -> CheckOutcome:
    acc = view.data("trained_model")["metrics"]["test_accuracy"]
    threshold = policy.training.min_test_accuracy
    return CheckOutcome("model_quality", acc >= threshold, round(acc, 4), threshold,
                        "training.min_test_accuracy", MODEL_TRAINING, None,
                        f"held-out accuracy {acc:.3f} {'>=' if acc >= threshold else '<'} {threshold}")


# -- signed_model -------------------------------------------------------------------------------
def _signed_model(ctx: StageContext) -> StageResult:
    model = ctx.upstream("trained_model").data["model"]
    folder = Path(model["path"])
    identity = ctx.policy.signing.identity
    if ctx.upstream("model_scan").data["model"]["sha256"] != model["sha256"]:
        raise SignatureError(f"model_scan scanned another model than {folder}: re-run model_scan before signing")
    bundle = sign_model(folder, ctx.keys.private_key(identity))
    signed = verify_trusted(folder, bundle, ctx.keys, identity)
    if signed.digest != model["sha256"]:
        raise SignatureError(f"signed digest {signed.digest[:12]}… differs from trained model {model['sha256'][:12]}…")
    ctx.tracker.log_file(ctx.upstream("trained_model").data["mlflow"]["run_id"], bundle, "signature")
    return StageResult(
        {"signature": {"bundle": str(bundle), "bundle_sha256": signed.bundle_sha256, "identity": identity,
                       "public_key_sha256": ctx.keys.fingerprint(identity), "signed_digest": signed.digest,
                       "files": signed.manifest},
         "supply_chain": attest(ctx, folder, identity)},
        summary=f"signed by '{identity}', digest {signed.digest[:12]}, SBOM + provenance",
        metadata={"identity": identity, "signed_digest": signed.digest, "bundle_sha256": signed.bundle_sha256})


def _check_signature(view: EvidenceView, policy: Policy) -> CheckOutcome:
    sig = view.data("signed_model")["signature"]
    model = view.data("trained_model")["model"]
    try:
        signed = verify_trusted(Path(model["path"]), Path(sig["bundle"]), view.keys, sig["identity"])
        ok = signed.digest == model["sha256"] == sig["signed_digest"]
        detail = "bundle verifies and signs the trained model's digest" if ok else \
            f"bundle verifies but signs {signed.digest[:12]}…, not the trained model {model['sha256'][:12]}…"
    except SignatureError as exc:
        ok, detail = False, str(exc)
    return CheckOutcome("signature_verifies", ok, ok, True, "signing.identity", MODEL_DEPLOYMENT,
                        "AML.T0010", detail, mitigation="AML.M0013")


# -- promotion ----------------------------------------------------------------------------------
def _promotion(ctx: StageContext) -> StageResult:
    decision = promotion_control.promote(ctx)
    return StageResult({"decision": decision}, summary=f"alias '{decision['alias']}' -> version {decision['version']}",
                       metadata={"alias": decision["alias"], "model_version": decision["version"],
                                 "model_sha256": decision["model_sha256"]})


RAW_DATA = Stage("raw_data", "Collect the source: path, sha256, size, rows, columns, newest record.",
                 (), _raw_data, kinds=("csv",))
VALIDATED_DATA = Stage("validated_data", "Great Expectations suite: schema, types, ranges, nulls, label set.",
                       ("raw_data",), _validated_data,
                       (CheckSpec("validation_suite", "Every expectation of the GX suite is met.", _check_validation),),
                       kinds=("great_expectations", "parquet"))
TRAINED_MODEL = Stage("trained_model", "Seeded torch training on feature columns only; safetensors; MLflow version.",
                      ("redacted_data",), _trained_model,
                      (CheckSpec("model_quality", "Held-out accuracy meets the policy.", _check_model_quality),),
                      kinds=("pytorch", "mlflow"))
SIGNED_MODEL = Stage("signed_model", "model-signing bundle over the model folder with the trainer's EC key; "
                     "CycloneDX SBOM and signed SLSA provenance.",
                     ("model_scan",), _signed_model,
                     (CheckSpec("signature_verifies", "The bundle verifies over the model folder with a trusted key.",
                                _check_signature), PROVENANCE_VERIFIED),
                     kinds=("sigstore",))


def promotion_stage(after: str) -> Stage:
    return Stage("promotion", "Re-verifies every control's evidence and the signature, then sets the MLflow alias.",
                 (after,), _promotion, kinds=("mlflow",))


def standard_stages(attacks: tuple[str, ...] = TABULAR_ATTACKS) -> tuple[Stage, ...]:
    """The chain; `attacks` picks what `adversarial_evaluation` runs (see pipelines.adversarial)."""
    chain = (RAW_DATA, VALIDATED_DATA, REDACTED_DATA, screened_data_stage(REDACTED_DATA.name),
             replace(TRAINED_MODEL, deps=("screened_data",)), MODEL_SCAN, SIGNED_MODEL, adversarial_stage(attacks))
    return chain + (risk_report_stage(chain[-1].name), promotion_stage(REPORT_STEP))
