"""Gates on the model artifact: quality, scan, signature and signed provenance.

    MODEL_QUALITY, ARTIFACT_SAFE, SIGNATURE_VERIFIES, PROVENANCE_VERIFIED    # CheckSpecs
    expected_materials(view)          # what the provenance must list (also used at signing and loading)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlsecops.checks.spec import CheckSpec, EvidenceView
from mlsecops.controls.model.attestation import CHECK as PROVENANCE_CHECK, Materials, evaluate_provenance
from mlsecops.controls.model.scanning.scan import CHECK as SCAN_CHECK, evaluate_artifact_safe
from mlsecops.controls.model.signing import verify_trusted
from mlsecops.core.errors import EvidenceError, SignatureError
from mlsecops.core.fileio import sha256_file
from mlsecops.core.outcome import MODEL_DEPLOYMENT, MODEL_TRAINING, CheckOutcome
from mlsecops.policy import Policy


def _check_model_quality(view: EvidenceView, policy: Policy) -> CheckOutcome:
    acc = view.data("trained_model")["metrics"]["test_accuracy"]
    threshold = policy.training.min_test_accuracy
    return CheckOutcome("model_quality", acc >= threshold, round(acc, 4), threshold,
                        "training.min_test_accuracy", MODEL_TRAINING, None,
                        f"held-out accuracy {acc:.3f} {'>=' if acc >= threshold else '<'} {threshold}")


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


def _check_artifact_safe(view: EvidenceView, policy: Policy) -> CheckOutcome:
    return evaluate_artifact_safe(view.data("model_scan")["scan"], policy.scanning,
                                  expected_digest=view.data("trained_model")["model"]["sha256"])


def signed_datasets(view: EvidenceView) -> dict[str, str]:
    trained = view.data("trained_model")
    source = view.data("raw_data")["source"]
    return {f"source:{Path(source['path']).name}": source["sha256"],
            f"table:{trained['dataset']['step']}": trained["dataset"]["sha256"]}


def recorded_supply_chain(view: EvidenceView) -> dict[str, Any]:
    recorded = view.data("signed_model").get("supply_chain")
    if not recorded:
        raise EvidenceError("signed_model evidence has no SBOM/provenance record (written before supply-chain "
                            "attestation existed): re-run the pipeline from signed_model")
    return recorded


def expected_materials(view: EvidenceView) -> Materials:
    """What the provenance must list: the (digest-verified) evidence of the steps that made the model,
    and the digest of the SBOM file as it is now (an SBOM edited after signing no longer matches)."""
    recorded = recorded_supply_chain(view)
    sbom = Path(recorded["sbom"]["path"])
    return Materials(signed_datasets(view), sha256_file(sbom) if sbom.is_file() else "missing",
                     view.data("trained_model")["policy_sha256"], recorded.get("git_commit"))


def _check_provenance(view: EvidenceView, policy: Policy) -> CheckOutcome:
    recorded, identity = recorded_supply_chain(view), view.data("signed_model")["signature"]["identity"]
    sbom, prov = Path(recorded["sbom"]["path"]), Path(recorded["provenance"]["path"])
    problems = []
    if not sbom.is_file() or sha256_file(sbom) != recorded["sbom"]["sha256"]:
        problems.append(f"SBOM {sbom} is missing or was altered after signing")
    if not prov.is_file() or sha256_file(prov) != recorded["provenance"]["sha256"]:
        problems.append(f"provenance {prov} is missing or differs from the one recorded at signing")
    try:
        trusted = list(view.keys.trusted(identity).values())
    except SignatureError as exc:
        trusted, problems = [], problems + [str(exc)]
    outcome = evaluate_provenance(prov, trusted, model_dir=Path(view.data("trained_model")["model"]["path"]),
                                  materials=expected_materials(view))
    if not problems:
        return outcome
    return CheckOutcome(PROVENANCE_CHECK, False, "unverified", outcome.threshold, outcome.policy_key,
                        MODEL_DEPLOYMENT, outcome.atlas, "; ".join(problems + ([] if outcome.passed else [outcome.detail])),
                        outcome.mitigation)


MODEL_QUALITY = CheckSpec("model_quality", "Held-out accuracy meets the policy.", _check_model_quality)
ARTIFACT_SAFE = CheckSpec(SCAN_CHECK, "Every file is an allowed, non-executable format by content and no "
                          "scanner objects (AML.T0011.000).", _check_artifact_safe)
SIGNATURE_VERIFIES = CheckSpec("signature_verifies", "The bundle verifies over the model folder with a trusted key.",
                               _check_signature)
PROVENANCE_VERIFIED = CheckSpec(PROVENANCE_CHECK, "The SLSA provenance is signed by a trusted key, names the "
                                "model's digest and lists the datasets, SBOM and policy it was made from "
                                "(AML.T0010).", _check_provenance)

CHECKS = (MODEL_QUALITY, ARTIFACT_SAFE, SIGNATURE_VERIFIES, PROVENANCE_VERIFIED)
