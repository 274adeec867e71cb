"""Policy loading, source collection, evidence store and signing: the pieces every stage uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlsecops.controls.data.provenance import collect_source
from mlsecops.trust.keyring import KeyRing
from mlsecops.controls.model.signing import sign_model, verify_model
from mlsecops.core.errors import EvidenceError, PolicyError, SignatureError, SourceError
from mlsecops.core.evidence import EvidenceStore
from mlsecops.core.fileio import folder_digest
from mlsecops.policy import load_policy


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_default_policy_and_per_pipeline_override() -> None:
    policy = load_policy()
    assert policy.promotion.alias == "production"
    assert policy.for_pipeline("digits").training.epochs != policy.training.epochs
    assert policy.for_pipeline("unknown") is policy


@pytest.mark.parametrize("text, named", [
    ("training:\n  min_test_acuracy: 0.9\n", "training.min_test_acuracy: unknown key"),
    ("training:\n  min_test_accuracy: 1.5\n", "training.min_test_accuracy"),
    ("bogus: 1\n", "bogus: unknown key"),
    ("pipelines:\n  digits:\n    training:\n      epochs: -1\n", "pipelines.digits.training.epochs"),
    ("- just a list\n", "expected a mapping"),
])
def test_bad_policy_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(PolicyError, match=named.replace(".", r"\.")):
        load_policy(_write(tmp_path / "p.yaml", text))


def test_policy_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSECOPS_POLICY", str(_write(tmp_path / "p.yaml", "promotion:\n  alias: staging\n")))
    assert load_policy().promotion.alias == "staging"
    monkeypatch.setenv("MLSECOPS_POLICY", str(tmp_path / "missing.yaml"))
    with pytest.raises(PolicyError, match="not found"):
        load_policy()


def test_collect_source_records_manifest_and_rejects_oversize(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.csv", "a,recorded_at\n1,2024-01-01T00:00:00\n2,2025-06-01T12:00:00\n")
    frame, manifest = collect_source(src, ["a", "recorded_at"], max_bytes=10_000, timestamp_column="recorded_at")
    assert manifest["rows"] == 2 and manifest["newest_record"].startswith("2025-06-01T12:00:00")
    assert len(manifest["sha256"]) == 64 and manifest["size_bytes"] == src.stat().st_size
    with pytest.raises(SourceError, match="above the policy limit source.max_bytes"):
        collect_source(src, ["a", "recorded_at"], max_bytes=10)
    with pytest.raises(SourceError, match=r"unexpected columns \['recorded_at'\]"):
        collect_source(src, ["a"], max_bytes=10_000)


def test_evidence_store_detects_altered_documents(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    ref = store.write("p", "run1", "step", {"x": 1})
    assert store.latest("p", "step").data == {"x": 1}
    assert store.latest_run_id("p") == "run1"
    assert not [p for p in tmp_path.rglob("*.tmp")]
    ref.path.write_text(ref.path.read_text().replace('"x":1', '"x":2'))
    with pytest.raises(EvidenceError, match="altered after it was written"):
        store.latest("p", "step")
    with pytest.raises(EvidenceError, match="no evidence for step 'other'"):
        store.latest("p", "other")


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, KeyRing]:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(os.urandom(4096))
    (model / "model.json").write_text('{"net": {}}')
    keys = KeyRing(tmp_path / "keys")
    return model, sign_model(model, keys.private_key("trainer")), keys


def test_keys_are_private_and_signature_verifies(signed: tuple[Path, Path, KeyRing]) -> None:
    model, bundle, keys = signed
    assert oct(keys.private_key("trainer").stat().st_mode & 0o777) == "0o600"
    assert verify_model(model, bundle, keys.public_key("trainer")).digest == folder_digest(model)


@pytest.mark.parametrize("tamper", ["flip", "add", "remove", "rename", "other_key"])
def test_signature_detects_tampering(signed: tuple[Path, Path, KeyRing], tamper: str) -> None:
    model, bundle, keys = signed
    identity = "trainer"
    weights = model / "model.safetensors"
    if tamper == "flip":
        data = bytearray(weights.read_bytes())
        data[10] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif tamper == "add":
        (model / "extra.bin").write_bytes(b"x")
    elif tamper == "remove":
        (model / "model.json").unlink()
    elif tamper == "rename":
        weights.rename(model / "weights.safetensors")
    else:
        keys.private_key("mallory")
        identity = "mallory"
    with pytest.raises(SignatureError, match="does not verify"):
        verify_model(model, bundle, keys.public_key(identity))


def test_bundle_verifies_with_upstream_cli(signed: tuple[Path, Path, KeyRing]) -> None:
    model, bundle, keys = signed
    cli = Path(sys.executable).with_name("model_signing")
    done = subprocess.run([str(cli), "verify", "key", "--signature", str(bundle), "--public_key",
                           str(keys.public_key("trainer")), str(model)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Verification succeeded" in done.stdout


def test_training_weights_do_not_depend_on_the_callers_thread_count() -> None:
    """Fitting pins torch's threads (policy training.threads), so an embedded run and a one-thread
    Dask worker produce the same digest; the caller's own setting is restored."""
    import hashlib

    import numpy as np
    import torch

    from mlsecops.models.training import TrainConfig, train_classifier
    from mlsecops.pipelines.digits import DIGITS, SCHEMA, make_frame

    frame = make_frame().iloc[:400]
    X = frame[SCHEMA.features].to_numpy(np.float32)
    y = frame[SCHEMA.label].to_numpy(np.int64)
    config = {**DIGITS.net, "in_features": len(SCHEMA.features), "classes": len(SCHEMA.labels)}
    before = torch.get_num_threads()
    digests = []
    try:
        for caller_threads in (1, 2, 4):
            torch.set_num_threads(caller_threads)
            net = train_classifier(X, y, config, TrainConfig(epochs=3, threads=1)).net
            assert torch.get_num_threads() == caller_threads
            digests.append(hashlib.sha256(b"".join(t.numpy().tobytes() for t in net.state_dict().values())).hexdigest())
    finally:
        torch.set_num_threads(before)
    assert len(set(digests)) == 1
