"""Signed provenance: an in-toto Statement v1 with a SLSA provenance v1 predicate, in a DSSE envelope.

    materials = Materials(datasets={"patients.csv": data_sha}, sbom_sha256=sbom.sha256, policy_sha256=policy.digest)
    att = attest_model(model_dir, out / "provenance.intoto.json", key_pem, materials, pipeline="patients", run_id=rid)
    prov = verify_attestation(att.path, [pub_pem], model_dir=model_dir, materials=materials)  # SignatureError

The subject is the model folder digest (`fileio.folder_digest`) plus every file's sha256; the
resolved dependencies are the dataset digests, the SBOM digest, the policy digest and the git
commit of the project when there is one. The statement is built and validated with the in-toto
attestation library's protobuf types and signed with securesystemslib's DSSE implementation,
using the same local EC keys model-signing uses.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlsecops.core.outcome import MODEL_DEPLOYMENT, CheckOutcome
from mlsecops.core.errors import SignatureError
from mlsecops.core.fileio import canonical_json, folder_manifest, sha256_bytes, write_bytes_atomic

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://mlsecops.local/training/v1"
BUILDER_ID = "https://mlsecops.local/pipeline"
ATLAS = "AML.T0010"
CHECK = "provenance_verified"


@dataclass(frozen=True)
class Materials:
    """What the model was made from, by digest: the provenance's resolved dependencies."""

    datasets: dict[str, str]            # name -> sha256
    sbom_sha256: str
    policy_sha256: str
    git_commit: str | None = None

    def descriptors(self) -> dict[str, dict[str, str]]:
        """role/name -> digest map, the form compared at verification."""
        out = {f"dataset:{name}": {"sha256": digest} for name, digest in sorted(self.datasets.items())}
        out["sbom"] = {"sha256": self.sbom_sha256}
        out["policy"] = {"sha256": self.policy_sha256}
        if self.git_commit:
            out["source"] = {"gitCommit": self.git_commit}
        return out


@dataclass(frozen=True)
class Attestation:
    """A written DSSE envelope and what it attests."""

    path: Path
    sha256: str
    subject_digest: str
    keyid: str
    statement: dict[str, Any] = field(repr=False)


def git_commit(folder: Path | None = None) -> str | None:
    """HEAD of the git work tree holding `folder` (default: this package), or None outside one."""
    where = Path(folder or Path(__file__).resolve().parent)
    try:
        done = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) in (40, 64) else None


def _subjects(model_dir: Path) -> tuple[str, dict[str, str]]:
    manifest = folder_manifest(model_dir)
    if not manifest:
        raise SignatureError(f"model folder {model_dir} is empty or missing: nothing to attest")
    return sha256_bytes(canonical_json(manifest)), manifest


def build_statement(model_dir: Path, materials: Materials, *, pipeline: str, run_id: str,
                    started_on: str | None = None, finished_on: str | None = None) -> dict[str, Any]:
    """The in-toto Statement (as a JSON-able dict), validated by the in-toto attestation library."""
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    from mlsecops.core import __version__

    model_dir = Path(model_dir)
    digest, manifest = _subjects(model_dir)
    subjects = [ResourceDescriptor(name=model_dir.name, digest={"sha256": digest},
                                   annotations={"kind": "folder-manifest"}).pb]
    subjects += [ResourceDescriptor(name=f"{model_dir.name}/{rel}", digest={"sha256": sha}).pb
                 for rel, sha in manifest.items()]
    prov = provenance_pb2.Provenance()
    build = prov.build_definition
    build.build_type = BUILD_TYPE
    build.external_parameters.update({"pipeline": pipeline, "run_id": run_id})
    for name, digest_map in materials.descriptors().items():
        role, _, label = name.partition(":")
        media = {"sbom": "application/vnd.cyclonedx+json", "policy": "application/json"}.get(role, "")
        build.resolved_dependencies.append(ResourceDescriptor(
            name=name, digest=digest_map, media_type=media, annotations={"role": role, "label": label or role}).pb)
    prov.run_details.builder.id = f"{BUILDER_ID}/{pipeline}"
    prov.run_details.builder.version["mlsecops"] = __version__
    prov.run_details.metadata.invocation_id = run_id
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    prov.run_details.metadata.started_on.FromJsonString(started_on or now)
    prov.run_details.metadata.finished_on.FromJsonString(finished_on or now)
    statement = Statement(subjects, PREDICATE_TYPE, json_format.MessageToDict(prov))
    statement.validate()
    return json_format.MessageToDict(statement.pb)


def _load_private(private_key: Path):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        return load_pem_private_key(Path(private_key).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SignatureError(f"private key {private_key} is unreadable: {exc}") from None


def _load_public(public_key: Path):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.signer import SSlibKey

    try:
        return SSlibKey.from_crypto(load_pem_public_key(Path(public_key).read_bytes()))
    except (OSError, ValueError, TypeError) as exc:
        raise SignatureError(f"public key {public_key} is unreadable: {exc}") from None


def attest_model(model_dir: Path, out_path: Path, private_key: Path, materials: Materials, *,
                 pipeline: str, run_id: str, started_on: str | None = None) -> Attestation:
    """Build the provenance statement for `model_dir`, sign it (DSSE) and write the envelope atomically."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner

    statement = build_statement(model_dir, materials, pipeline=pipeline, run_id=run_id, started_on=started_on)
    envelope = Envelope(canonical_json(statement), PAYLOAD_TYPE, {})
    signer = CryptoSigner(_load_private(private_key))
    signature = envelope.sign(signer)
    data = canonical_json(envelope.to_dict())
    write_bytes_atomic(Path(out_path), data)
    return Attestation(Path(out_path), sha256_bytes(data), statement["subject"][0]["digest"]["sha256"],
                       signature.keyid, statement)


@dataclass(frozen=True)
class VerifiedProvenance:
    """A provenance statement whose signature, subject and materials all checked out."""

    statement: dict[str, Any]
    subject_digest: str
    keyid: str
    dependencies: dict[str, dict[str, str]]
    envelope_sha256: str


def read_statement(path: Path) -> tuple[dict[str, Any], Any]:
    """The (unverified) statement and the securesystemslib Envelope from a DSSE file."""
    from securesystemslib.dsse import Envelope

    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        envelope = Envelope.from_dict(raw)
        statement = json.loads(envelope.payload)
    except FileNotFoundError:
        raise SignatureError(f"provenance {path} does not exist: sign the model again") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SignatureError(f"provenance {path} is malformed: {type(exc).__name__}: {exc}") from None
    return statement, envelope


def verify_attestation(path: Path, trusted_keys: list[Path], *, model_dir: Path | None = None,
                       subject_digest: str | None = None, materials: Materials | None = None) -> VerifiedProvenance:
    """Verify signature (by one of `trusted_keys`), statement shape, subject and materials.

    Raises SignatureError naming the first thing that does not match. The subject is compared with
    the digest of `model_dir` as it is now (or with `subject_digest`); each material given must
    appear among the resolved dependencies with the same digest.
    """
    from securesystemslib.exceptions import VerificationError

    path = Path(path)
    statement, envelope = read_statement(path)
    if envelope.payload_type != PAYLOAD_TYPE:
        raise SignatureError(f"provenance {path} has payload type {envelope.payload_type!r}, not {PAYLOAD_TYPE}")
    keys = [_load_public(k) for k in trusted_keys]
    if not keys:
        raise SignatureError(f"no trusted keys given to verify provenance {path}")
    try:
        accepted = envelope.verify(keys, 1)
    except (VerificationError, ValueError):
        signers = list(envelope.signatures)
        if any(k.keyid in signers for k in keys):
            raise SignatureError(f"provenance {path} does not verify: its signature by trusted keyid "
                                 f"{signers[0][:12]}… does not match its content (the statement was altered "
                                 f"after signing)") from None
        raise SignatureError(f"provenance {path} is not signed by a trusted key (signed by keyid "
                             f"{', '.join(k[:12] for k in signers) or 'nobody'}; trusted: "
                             f"{', '.join(k.keyid[:12] for k in keys)})") from None
    if statement.get("_type") != STATEMENT_TYPE or statement.get("predicateType") != PREDICATE_TYPE:
        raise SignatureError(f"provenance {path} is not an in-toto v1 statement with a SLSA v1 predicate")
    subjects = statement.get("subject") or []
    if not subjects:
        raise SignatureError(f"provenance {path} names no subject")
    signed_digest = subjects[0].get("digest", {}).get("sha256", "")
    if model_dir is not None:
        subject_digest, _ = _subjects(Path(model_dir))
    if subject_digest is not None and signed_digest != subject_digest:
        raise SignatureError(f"provenance {path} is for model {signed_digest[:12]}…, not for this model "
                             f"{subject_digest[:12]}… (a statement for another model, or the model changed)")
    deps = {d.get("name", ""): dict(d.get("digest", {}))
            for d in statement.get("predicate", {}).get("buildDefinition", {}).get("resolvedDependencies", [])}
    if materials is not None:
        for name, digest in materials.descriptors().items():
            if deps.get(name) != digest:
                got = deps.get(name)
                raise SignatureError(f"provenance {path}: material '{name}' is {_short(got)} in the statement, "
                                     f"expected {_short(digest)}")
    return VerifiedProvenance(statement, signed_digest, next(iter(accepted)), deps,
                              sha256_bytes(Path(path).read_bytes()))


def _short(digest: dict[str, str] | None) -> str:
    if not digest:
        return "missing"
    return ", ".join(f"{k}:{v[:12]}…" for k, v in sorted(digest.items()))


def keyid(public_key: Path) -> str:
    """The DSSE key id (securesystemslib default) of a PEM public key."""
    return _load_public(public_key).keyid


def evaluate_provenance(path: Path, trusted_keys: list[Path], *, model_dir: Path,
                        materials: Materials) -> CheckOutcome:
    """The `provenance_verified` check: signature by a trusted key, subject = model, materials = ours."""
    try:
        verified = verify_attestation(path, trusted_keys, model_dir=model_dir, materials=materials)
    except SignatureError as exc:
        return CheckOutcome(CHECK, False, "unverified", "signed by a trusted key, subject and materials match",
                            "signing", MODEL_DEPLOYMENT, ATLAS, str(exc),
                            "M0013 code signing, M0025 dataset provenance: re-run the pipeline to re-attest")
    return CheckOutcome(CHECK, True, "verified", "signed by a trusted key, subject and materials match",
                        "signing", MODEL_DEPLOYMENT, ATLAS,
                        f"provenance {Path(path).name} signed by keyid {verified.keyid[:12]}… for model "
                        f"{verified.subject_digest[:12]}… with {len(verified.dependencies)} resolved dependencies",
                        "M0013 code signing, M0025 dataset provenance")
