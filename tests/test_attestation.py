"""SBOM (cyclonedx-bom) and signed SLSA provenance (in-toto + DSSE) on a real model folder."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import torch
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from safetensors.torch import save_file

from mlsecops.controls.model.attestation import (Materials, attest_model, evaluate_provenance, git_commit,
                                           verify_attestation)
from mlsecops.controls.model.sbom import read_sbom, write_environment_sbom
from mlsecops.core.errors import ArtifactError, SignatureError
from mlsecops.core.fileio import folder_digest, sha256_bytes


def _keypair(folder: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    folder.mkdir(parents=True, exist_ok=True)
    pem, pub = folder / f"{name}.pem", folder / f"{name}.pub"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return pem, pub


def _model(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    folder.mkdir(parents=True)
    save_file({"w": torch.randn(3, 3)}, folder / "model.safetensors")
    (folder / "model.json").write_text(json.dumps({"architecture": "mlp", "seed": seed}))
    return folder


@pytest.fixture(scope="module")
def sbom(tmp_path_factory):
    return write_environment_sbom(tmp_path_factory.mktemp("sbom") / "sbom.cdx.json")


@pytest.fixture
def setup(tmp_path, sbom):
    model = _model(tmp_path / "a" / "model", 1)
    pem, pub = _keypair(tmp_path / "keys", "trainer")
    materials = Materials({"patients.csv": sha256_bytes(b"rows")}, sbom.sha256, sha256_bytes(b"policy"),
                          git_commit())
    att = attest_model(model, tmp_path / "a" / "provenance.intoto.json", pem, materials,
                       pipeline="patients", run_id="run-1")
    return model, pem, pub, materials, att


def test_sbom_lists_this_environment(sbom):
    assert sbom.spec_version == "1.6" and sbom.component_count > 50
    assert sbom.components["torch"] == torch.__version__
    assert "model-signing" in sbom.components
    assert read_sbom(sbom.path).sha256 == sbom.sha256


def test_sbom_reader_rejects_other_json(tmp_path):
    bogus = tmp_path / "sbom.json"
    bogus.write_text('{"components": [{"name": "torch"}]}')
    with pytest.raises(ArtifactError, match="not a CycloneDX document"):
        read_sbom(bogus)


def test_provenance_binds_model_and_materials(setup, sbom):
    model, _pem, pub, materials, att = setup
    verified = verify_attestation(att.path, [pub], model_dir=model, materials=materials)
    assert verified.subject_digest == folder_digest(model) == att.subject_digest
    statement = verified.statement
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    names = {s["name"] for s in statement["subject"]}
    assert {"model", "model/model.safetensors", "model/model.json"} <= names
    assert verified.dependencies["sbom"] == {"sha256": sbom.sha256}
    assert verified.dependencies["dataset:patients.csv"] == {"sha256": sha256_bytes(b"rows")}
    assert "policy" in verified.dependencies
    envelope = json.loads(att.path.read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json" and len(envelope["signatures"]) == 1


def test_altered_statement_fails_signature(setup):
    model, _pem, pub, materials, att = setup
    envelope = json.loads(att.path.read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["sha256"] = "0" * 64
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    att.path.write_text(json.dumps(envelope))
    with pytest.raises(SignatureError, match="altered after signing"):
        verify_attestation(att.path, [pub], model_dir=model, materials=materials)


def test_untrusted_key_and_rotation(setup, tmp_path):
    model, _pem, pub, materials, att = setup
    _new_pem, new_pub = _keypair(tmp_path / "keys", "trainer-2025")
    # the trust list after rotation holds only the new key: the old signature no longer counts
    with pytest.raises(SignatureError, match="not signed by a trusted key"):
        verify_attestation(att.path, [new_pub], model_dir=model, materials=materials)
    # during the overlap both are trusted
    assert verify_attestation(att.path, [new_pub, pub], model_dir=model, materials=materials)


def test_statement_replayed_on_another_model_fails(setup, tmp_path):
    _model_dir, _pem, pub, materials, att = setup
    other = _model(tmp_path / "b" / "model", 2)
    with pytest.raises(SignatureError, match="is for model .* not for this model"):
        verify_attestation(att.path, [pub], model_dir=other, materials=materials)


def test_changed_weights_and_changed_materials_fail(setup):
    model, _pem, pub, materials, att = setup
    bad = Materials(materials.datasets, sha256_bytes(b"another sbom"), materials.policy_sha256, materials.git_commit)
    with pytest.raises(SignatureError, match="material 'sbom'"):
        verify_attestation(att.path, [pub], model_dir=model, materials=bad)
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    outcome = evaluate_provenance(att.path, [pub], model_dir=model, materials=materials)
    assert not outcome.passed and "not for this model" in outcome.detail and outcome.atlas == "AML.T0010"


def test_missing_or_malformed_envelope(setup, tmp_path):
    model, _pem, pub, materials, _att = setup
    with pytest.raises(SignatureError, match="does not exist"):
        verify_attestation(tmp_path / "none.intoto.json", [pub], model_dir=model)
    junk = tmp_path / "junk.intoto.json"
    junk.write_text('{"payload": 1}')
    with pytest.raises(SignatureError, match="malformed"):
        verify_attestation(junk, [pub], model_dir=model)
