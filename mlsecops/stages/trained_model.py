"""`trained_model`: seeded torch training on the feature columns only; safetensors; MLflow version."""

from __future__ import annotations

import numpy as np

from mlsecops.checks.model import MODEL_QUALITY
from mlsecops.core.encoding import encoding_record
from mlsecops.core.fileio import folder_digest
from mlsecops.models.training import save_model_folder, train_classifier, train_config
from mlsecops.stages.framework import Stage, StageContext, StageResult


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
                       "label": schema.label, "train_config": cfg.__dict__, "encoding": encoding_record(schema)})
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
        {"model": {"path": str(folder), "sha256": digest, "features": features,
                   "architecture": net_config["architecture"], "code": net_config.get("code")},
         "encoding": encoding_record(schema),
         "dataset": {"step": table["step"], "sha256": table["sha256"], "rows": table["rows"]},
         "metrics": m, "train_config": cfg.__dict__,
         "mlflow": {"run_id": run, "registered_model": ctx.spec.name, "version": version}},
        summary=f"test accuracy {m['test_accuracy']:.3f}, F1 {m['test_f1_macro']:.3f}, version {version}",
        metadata={"test_accuracy": m["test_accuracy"], "test_f1_macro": m["test_f1_macro"],
                  "model_sha256": digest, "mlflow_run_id": run, "model_version": version})


TRAINED_MODEL = Stage("trained_model", "Seeded torch training on feature columns only; safetensors; MLflow version.",
                      ("redacted_data",), _trained_model,
                      (MODEL_QUALITY,),
                      kinds=("pytorch", "mlflow"))
