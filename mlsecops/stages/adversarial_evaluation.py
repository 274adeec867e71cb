"""`adversarial_evaluation`: attack the signed model with ART and gate promotion on the results.

    stage = adversarial_stage(TABULAR_ATTACKS)    # checks: one blocking check per gate that applies

Loads the model only through `load_verified_model` (bundle with a trusted key, expected digest,
signed provenance), rebuilds the exact train/held-out split of `trained_model` from its evidence,
runs the attacks with the policy's budgets (mlsecops.controls.model.adversarial.engine), writes the PNG plots,
logs plots and numbers to the model's MLflow run and links them from the asset's metadata.

Which attacks apply is a property of the data, so it is fixed per pipeline: tables get evasion
(FGSM, PGD, HopSkipJump), membership inference and extraction; MIFace (class prototypes of a
two-class table are not private) and image corruptions (blur, contrast) are for images only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlsecops.checks.adversarial import STEP, adversarial_checks
from mlsecops.controls.model.adversarial.engine import evaluate_gate, evaluate_model, gates_for, prepare_data
from mlsecops.core.errors import EvidenceError
from mlsecops.models.loading import load_verified_model
from mlsecops.models.training import split_indices
from mlsecops.stages.framework import Stage, StageContext, StageResult

# HopSkipJump draws no figure: run last, the other attacks' plots render on the idle core meanwhile
TABULAR_ATTACKS = ("fgsm", "pgd", "membership", "copycat", "hopskipjump")
IMAGE_ATTACKS = ("fgsm", "pgd", "membership", "miface", "copycat", "corruptions", "hopskipjump")


def _run(attacks: tuple[str, ...]):
    def run(ctx: StageContext) -> StageResult:
        trained = ctx.upstream("trained_model").data
        signed_ev = ctx.upstream("signed_model").data
        sig = signed_ev["signature"]
        provenance = signed_ev.get("supply_chain", {}).get("provenance", {}).get("path")
        net, meta, signed = load_verified_model(
            Path(trained["model"]["path"]), Path(sig["bundle"]), ctx.keys, identity=sig["identity"],
            expected_digest=trained["model"]["sha256"], provenance=Path(provenance) if provenance else None)
        frame, table = ctx.input_table(STEP)
        if table["sha256"] != trained["dataset"]["sha256"]:
            raise EvidenceError(f"the newest '{table['step']}' table ({table['sha256'][:12]}…) is not the one the model "
                                f"was trained on ({trained['dataset']['sha256'][:12]}…): re-run the pipeline")
        X = frame[meta["features"]].to_numpy(dtype=np.float32)
        y = frame[meta["label"]].to_numpy(dtype=np.int64)
        cfg = trained["train_config"]
        train_idx, test_idx = split_indices(y, cfg["test_fraction"], cfg["seed"])
        data = prepare_data(X, y, train_idx, test_idx, image_side=meta["net"].get("side"))
        budget = ctx.policy.adversarial
        report = evaluate_model(net, data, attacks, budget, ctx.workdir(STEP) / "plots", progress=ctx.log.info)
        evidence = report.to_dict()

        run_id = trained["mlflow"]["run_id"]
        for plot in evidence["plots"].values():
            ctx.tracker.log_file(run_id, Path(plot["path"]), "adversarial")
        ctx.tracker.log_metrics(run_id, _headline(evidence))
        plots_uri = f"{ctx.tracker.client.get_run(run_id).info.artifact_uri}/adversarial"
        outcomes = [evaluate_gate(g.check, evidence, budget) for g in gates_for(attacks)]
        failed = [o.check for o in outcomes if not o.passed]
        summary = (f"{len(attacks)} attacks in {report.seconds:.1f}s; "
                   + (f"FAILS {', '.join(failed)}" if failed else f"{len(outcomes)} gates pass"))
        metadata = {**{k: round(v, 4) for k, v in _headline(evidence).items()},
                    "attack_seconds": round(report.seconds, 2), "plots_mlflow": plots_uri,
                    **{f"plot_{name}": Path(p["path"]) for name, p in evidence["plots"].items()}}
        return StageResult({"adversarial": evidence, "attacks": list(attacks),
                            "model": {"sha256": signed.digest}, "dataset": {"sha256": table["sha256"]},
                            "mlflow": {"run_id": run_id, "plots": plots_uri}},
                           summary=summary, metadata=metadata)

    return run


def _headline(evidence: dict) -> dict[str, float]:
    """The numbers worth a glance: logged to MLflow and shown on the asset."""
    out: dict[str, float] = {}
    a = evidence["attacks"]
    gate_eps = evidence["budgets"]["evasion"]["gate_eps"]
    for name in ("fgsm", "pgd"):
        if name in a:
            out[f"adv_{name}_accuracy_at_gate_eps"] = a[name]["curve"][str(gate_eps)]
    if "hopskipjump" in a:
        out["adv_hsj_success_rate"] = a["hopskipjump"]["metrics"]["success_rate"]
    if "membership" in a:
        out["adv_mia_advantage"] = a["membership"]["metrics"]["advantage"]
        out["adv_mia_auc"] = a["membership"]["metrics"]["auc"]
    if "miface" in a:
        out["adv_inversion_similarity"] = a["miface"]["metrics"]["mean_similarity"]
    if "copycat" in a:
        gate_q = str(evidence["budgets"]["extraction"]["gate_queries"])
        out["adv_extraction_agreement_at_gate"] = a["copycat"]["metrics"]["agreement"][gate_q]
    if "corruptions" in a:
        out["adv_worst_corruption_accuracy"] = min(a["corruptions"]["metrics"]["accuracy"].values())
    return out


def adversarial_stage(attacks: tuple[str, ...] = TABULAR_ATTACKS, after: str = "signed_model") -> Stage:
    """The stage for one pipeline: its attacks and one blocking check per gate they feed."""
    return Stage(STEP, "ART attacks on the signed model (evasion, membership inference, extraction"
                 + (", inversion, corruptions" if "miface" in attacks else "") + "); plots in MLflow.",
                 (after,), _run(tuple(attacks)), adversarial_checks(attacks), kinds=("pytorch", "mlflow"))
