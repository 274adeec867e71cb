"""`signed_model`: model-signing bundle, CycloneDX SBOM and signed SLSA provenance of the model folder.

    data["supply_chain"] = attest(ctx, folder, identity)   # SBOM + provenance, logged to MLflow
    net, meta, signed = load_pipeline_model(view)          # the verified load later stages use
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlsecops.checks.model import (ARTIFACT_SAFE, PROVENANCE_VERIFIED, SIGNATURE_VERIFIES, expected_materials,
                                   recorded_supply_chain, signed_datasets)
from mlsecops.checks.spec import EvidenceView
from mlsecops.controls.model.attestation import Materials, attest_model, git_commit
from mlsecops.controls.model.sbom import write_environment_sbom
from mlsecops.controls.model.signing import sign_model, verify_trusted
from mlsecops.core.errors import SignatureError
from mlsecops.models.loading import load_verified_model
from mlsecops.policy import Policy
from mlsecops.stages.framework import Stage, StageContext, StageResult

PROVENANCE_FILE = "model.intoto.json"


SBOM_FILE = "sbom.cdx.json"



def attest(ctx: StageContext, folder: Path, identity: str) -> dict[str, Any]:
    """Write the environment SBOM and the signed provenance of `folder`; log both to MLflow."""
    out = ctx.workdir("signed_model")
    sbom = write_environment_sbom(out / SBOM_FILE)
    commit = git_commit()
    materials = Materials(signed_datasets(ctx), sbom.sha256, ctx.upstream("trained_model").data["policy_sha256"], commit)
    att = attest_model(folder, out / PROVENANCE_FILE, ctx.keys.private_key(identity), materials,
                       pipeline=ctx.spec.name, run_id=ctx.run_id)
    run = ctx.data("trained_model")["mlflow"]["run_id"]
    ctx.tracker.log_file(run, sbom.path, "signature")
    ctx.tracker.log_file(run, att.path, "signature")
    return {"sbom": sbom.to_dict(), "git_commit": commit,
            "provenance": {"path": str(att.path), "sha256": att.sha256, "keyid": att.keyid,
                           "subject_sha256": att.subject_digest}}



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


SIGNED_MODEL = Stage("signed_model", "model-signing bundle over the model folder with the trainer's EC key; "
                     "CycloneDX SBOM and signed SLSA provenance.",
                     ("model_scan",), _signed_model,
                     (SIGNATURE_VERIFIES, PROVENANCE_VERIFIED),
                     kinds=("sigstore",))


def load_pipeline_model(view: EvidenceView, policy: Policy | None = None):
    """Load the pipeline's newest signed model through `load_verified_model`, with everything checked.

    The evidence is read digest-verified; the bundle must be signed by a key trusted for the
    signing identity, the signed digest must be the trained model's, the provenance must verify
    with the expected materials, and (given `policy`) the scan must pass under it.
    """
    trained, signed = view.data("trained_model"), view.data("signed_model")
    if policy is not None:
        outcome = ARTIFACT_SAFE.evaluate(view, policy)
        if not outcome.passed:
            raise SignatureError(f"refusing to load {trained['model']['path']}: {outcome.detail}")
    return load_verified_model(Path(trained["model"]["path"]), Path(signed["signature"]["bundle"]), view.keys,
                               identity=signed["signature"]["identity"], expected_digest=trained["model"]["sha256"],
                               provenance=Path(recorded_supply_chain(view)["provenance"]["path"]),
                               materials=expected_materials(view))
