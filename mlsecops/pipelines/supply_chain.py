"""Supply-chain stage and checks: scan before signing, SBOM + signed provenance at signing, verify after.

    MODEL_SCAN                                    # stage between trained_model and signed_model
    data["supply_chain"] = attest(ctx, folder)    # called by the signed_model stage
    net, meta, signed = load_pipeline_model(view) # the verified load every later stage and server uses

The checks (`artifact_safe` on model_scan, `provenance_verified` on signed_model) are pure
functions of the evidence, so promotion re-runs them; `verify_registered_supply_chain` checks the
provenance again against the registered MLflow version's own files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlsecops.controls.attestation import (CHECK as PROVENANCE_CHECK, Materials, attest_model, evaluate_provenance,
                                           git_commit, verify_attestation)
from mlsecops.controls.outcome import MODEL_DEPLOYMENT, CheckOutcome
from mlsecops.controls.sbom import write_environment_sbom
from mlsecops.controls.scanning import CHECK as SCAN_CHECK, evaluate_artifact_safe, scan_path
from mlsecops.errors import EvidenceError, SignatureError
from mlsecops.fileio import sha256_file
from mlsecops.pipelines.spec import CheckSpec, EvidenceView, Stage, StageContext, StageResult
from mlsecops.policy import Policy

PROVENANCE_FILE = "model.intoto.json"
SBOM_FILE = "sbom.cdx.json"


# -- model_scan ---------------------------------------------------------------------------------
def _model_scan(ctx: StageContext) -> StageResult:
    model = ctx.upstream("trained_model").data["model"]
    report = scan_path(Path(model["path"]), ctx.policy.scanning, progress=lambda rel: ctx.log.info(f"scanning {rel}"))
    formats = sorted({f.format for f in report.files})
    summary = (f"{len(report.files)} files ({', '.join(formats)}), no findings" if report.safe
               else f"UNSAFE: {len(report.reasons)} reason(s): {report.reasons[0]}")
    return StageResult({"model": {"path": model["path"], "sha256": model["sha256"]}, "scan": report.to_dict()},
                       summary=summary,
                       metadata={"files": len(report.files), "formats": ", ".join(formats),
                                 "blocked_files": sum(f.blocked for f in report.files),
                                 "scanners": report.scanners, "scanned_sha256": report.digest})


def _check_artifact_safe(view: EvidenceView, policy: Policy) -> CheckOutcome:
    return evaluate_artifact_safe(view.data("model_scan")["scan"], policy.scanning,
                                  expected_digest=view.data("trained_model")["model"]["sha256"])


MODEL_SCAN = Stage("model_scan", "Content-based format allowlist + picklescan, fickling and modelscan over the "
                   "model folder, before anything signs it.", ("trained_model",), _model_scan,
                   (CheckSpec(SCAN_CHECK, "Every file is an allowed, non-executable format by content and no "
                              "scanner objects (AML.T0011.000).", _check_artifact_safe),),
                   kinds=("modelscan",))


# -- SBOM + provenance at signing ----------------------------------------------------------------
def _datasets(view: EvidenceView) -> dict[str, str]:
    trained = view.data("trained_model")
    source = view.data("raw_data")["source"]
    return {f"source:{Path(source['path']).name}": source["sha256"],
            f"table:{trained['dataset']['step']}": trained["dataset"]["sha256"]}


def _recorded(view: EvidenceView) -> dict[str, Any]:
    recorded = view.data("signed_model").get("supply_chain")
    if not recorded:
        raise EvidenceError("signed_model evidence has no SBOM/provenance record (written before supply-chain "
                            "attestation existed): re-run the pipeline from signed_model")
    return recorded


def expected_materials(view: EvidenceView) -> Materials:
    """What the provenance must list: the (digest-verified) evidence of the steps that made the model,
    and the digest of the SBOM file as it is now (an SBOM edited after signing no longer matches)."""
    recorded = _recorded(view)
    sbom = Path(recorded["sbom"]["path"])
    return Materials(_datasets(view), sha256_file(sbom) if sbom.is_file() else "missing",
                     view.data("trained_model")["policy_sha256"], recorded.get("git_commit"))


def attest(ctx: StageContext, folder: Path, identity: str) -> dict[str, Any]:
    """Write the environment SBOM and the signed provenance of `folder`; log both to MLflow."""
    out = ctx.workdir("signed_model")
    sbom = write_environment_sbom(out / SBOM_FILE)
    commit = git_commit()
    materials = Materials(_datasets(ctx), sbom.sha256, ctx.upstream("trained_model").data["policy_sha256"], commit)
    att = attest_model(folder, out / PROVENANCE_FILE, ctx.keys.private_key(identity), materials,
                       pipeline=ctx.spec.name, run_id=ctx.run_id)
    run = ctx.data("trained_model")["mlflow"]["run_id"]
    ctx.tracker.log_file(run, sbom.path, "signature")
    ctx.tracker.log_file(run, att.path, "signature")
    return {"sbom": sbom.to_dict(), "git_commit": commit,
            "provenance": {"path": str(att.path), "sha256": att.sha256, "keyid": att.keyid,
                           "subject_sha256": att.subject_digest}}


def _check_provenance(view: EvidenceView, policy: Policy) -> CheckOutcome:
    recorded, identity = _recorded(view), view.data("signed_model")["signature"]["identity"]
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


PROVENANCE_VERIFIED = CheckSpec(PROVENANCE_CHECK, "The SLSA provenance is signed by a trusted key, names the "
                                "model's digest and lists the datasets, SBOM and policy it was made from "
                                "(AML.T0010).", _check_provenance)


# -- after signing: promotion and loading --------------------------------------------------------
def verify_registered_supply_chain(ctx: StageContext, run_id: str, model_dir: Path, tmp: Path) -> dict[str, Any]:
    """Check the provenance and SBOM logged with the registered version against its own model files."""
    recorded = _recorded(ctx)
    identity = ctx.data("signed_model")["signature"]["identity"]
    prov = ctx.tracker.download(run_id, f"signature/{PROVENANCE_FILE}", tmp)
    sbom = ctx.tracker.download(run_id, f"signature/{SBOM_FILE}", tmp)
    if sha256_file(sbom) != recorded["sbom"]["sha256"]:
        raise SignatureError("the SBOM logged to MLflow differs from the one recorded and attested at signing")
    verified = verify_attestation(prov, list(ctx.keys.trusted(identity).values()), model_dir=model_dir,
                                  materials=expected_materials(ctx))
    return {"provenance_sha256": verified.envelope_sha256, "sbom_sha256": recorded["sbom"]["sha256"]}


def load_pipeline_model(view: EvidenceView, policy: Policy | None = None):
    """Load the pipeline's newest signed model through `load_verified_model`, with everything checked.

    The evidence is read digest-verified; the bundle must be signed by a key trusted for the
    signing identity, the signed digest must be the trained model's, the provenance must verify
    with the expected materials, and (given `policy`) the scan must pass under it.
    """
    from mlsecops.models.loading import load_verified_model

    trained, signed = view.data("trained_model"), view.data("signed_model")
    if policy is not None:
        outcome = _check_artifact_safe(view, policy)
        if not outcome.passed:
            raise SignatureError(f"refusing to load {trained['model']['path']}: {outcome.detail}")
    return load_verified_model(Path(trained["model"]["path"]), Path(signed["signature"]["bundle"]), view.keys,
                               identity=signed["signature"]["identity"], expected_digest=trained["model"]["sha256"],
                               provenance=Path(_recorded(view)["provenance"]["path"]),
                               materials=expected_materials(view))
