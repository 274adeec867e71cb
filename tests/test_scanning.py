"""Artifact scanning on real files built here, hostile ones on purpose (nothing is ever unpickled)."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from mlsecops.controls.model.scanning.formats import detect_format
from mlsecops.controls.model.scanning.scan import evaluate_artifact_safe, scan_path
from mlsecops.core.errors import ArtifactError
from mlsecops.core.fileio import folder_digest
from mlsecops.controls.model.policy import ScanningPolicy

POLICY = ScanningPolicy()


class _Exploit:
    """Unpickling this runs a shell command: the classic malicious pickle."""

    def __reduce__(self):
        return (os.system, ("echo owned > /tmp/mlsecops-owned",))


class CustomNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)


def _clean_model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    save_file({"fc.weight": torch.randn(2, 4), "fc.bias": torch.zeros(2)}, folder / "model.safetensors")
    (folder / "model.json").write_text('{"architecture": "mlp", "layers": [4, 2]}')
    return folder


def _by_scanner(report, path: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for file in report.files:
        if file.path == path:
            for f in file.findings:
                out.setdefault(f.scanner, []).append(f.reason)
    return out


def test_clean_model_folder_passes(tmp_path):
    report = scan_path(_clean_model(tmp_path / "model"), POLICY)
    assert report.safe, report.reasons
    assert {f.path: f.format for f in report.files} == {"model.json": "json", "model.safetensors": "safetensors"}
    outcome = evaluate_artifact_safe(report.to_dict(), POLICY)
    assert outcome.passed and outcome.value == 0 and outcome.atlas == "AML.T0011.000"
    assert set(report.scanners) == {"format", "picklescan", "fickling", "modelscan"}


def test_malicious_pickle_disguised_as_safetensors_is_blocked_by_every_scanner(tmp_path):
    model = _clean_model(tmp_path / "model")
    (model / "model.safetensors").write_bytes(pickle.dumps(_Exploit()))
    report = scan_path(model, POLICY)
    outcome = evaluate_artifact_safe(report.to_dict(), POLICY)
    assert not outcome.passed and outcome.value == 1
    assert "model.safetensors: content is pickle" in outcome.detail
    found = _by_scanner(report, "model.safetensors")
    assert "system" in " ".join(found["picklescan"])
    assert "OVERTLY_MALICIOUS" in " ".join(found["fickling"])
    assert "system" in " ".join(found["modelscan"])  # shown a .pkl view of the file, not its name


def test_torch_save_full_model_is_blocked_where_modelscan_alone_is_silent(tmp_path):
    target = tmp_path / "model.pt"
    torch.save(CustomNet(), target)
    assert detect_format(target) == "torch-zip"
    report = scan_path(target, POLICY)
    found = _by_scanner(report, "model.pt")
    assert not report.safe
    assert "CustomNet" in " ".join(found["picklescan"])
    assert "fickling" in found
    assert "modelscan" not in found  # the reason the scanners are combined
    # renamed to look like weights, it is still a torch pickle archive
    disguised = tmp_path / "weights.safetensors"
    shutil.copy(target, disguised)
    assert not evaluate_artifact_safe(scan_path(disguised, POLICY).to_dict(), POLICY).passed


def test_joblib_files_are_blocked_plain_and_compressed(tmp_path):
    plain, packed = tmp_path / "model.joblib", tmp_path / "packed.joblib"
    joblib.dump({"coef": np.ones(3), "hook": _Exploit()}, plain)
    joblib.dump({"coef": np.ones(3)}, packed, compress=3)
    plain_report = scan_path(plain, POLICY)
    assert not plain_report.safe
    # the raw array bytes joblib writes mid-stream hide the payload behind them from every parser:
    # each scanner still objects (unparsable stream, unsafe imports), and a parse error blocks
    found = _by_scanner(plain_report, "model.joblib")
    assert {"format", "picklescan", "fickling", "modelscan"} <= set(found)
    assert any("could not be fully parsed" in r for r in found["picklescan"])
    packed_report = scan_path(packed, POLICY)
    assert not packed_report.safe  # compressed: not an allowed format, whatever is inside
    assert packed_report.files[0].format not in POLICY.allowed_formats


def test_polyglot_safetensors_with_appended_pickle_is_not_safetensors(tmp_path):
    model = _clean_model(tmp_path / "model")
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + pickle.dumps(_Exploit()))
    report = scan_path(model, POLICY)
    assert {f.path: f.format for f in report.files}["model.safetensors"] != "safetensors"
    assert not report.safe


def test_protocol_zero_pickle_named_json_is_a_pickle(tmp_path):
    target = tmp_path / "config.json"
    target.write_bytes(pickle.dumps(_Exploit(), protocol=0))
    assert detect_format(target) == "pickle"
    assert not scan_path(target, POLICY).safe


def test_symlink_inside_model_folder_is_blocked(tmp_path):
    model = _clean_model(tmp_path / "model")
    (tmp_path / "outside.json").write_text("{}")
    (model / "extra.json").symlink_to(tmp_path / "outside.json")
    report = scan_path(model, POLICY)
    assert {f.path: f.format for f in report.files}["extra.json"] == "symlink"
    assert any(r.startswith("extra.json: content is symlink") for r in report.reasons)


def test_evaluation_follows_the_policy_not_the_recorded_verdict(tmp_path):
    model = _clean_model(tmp_path / "model")
    (model / "README.md").write_text("# model card\nTrained on synthetic data.\n")
    evidence = scan_path(model, POLICY).to_dict()
    assert not evaluate_artifact_safe(evidence, POLICY).passed
    relaxed = ScanningPolicy(allowed_formats=("safetensors", "json", "text"))
    assert evaluate_artifact_safe(evidence, relaxed).passed
    # evidence written by a run that skipped a scanner the policy requires does not pass
    evidence_missing = dict(evidence, scanners={k: v for k, v in evidence["scanners"].items() if k != "fickling"})
    outcome = evaluate_artifact_safe(evidence_missing, relaxed)
    assert not outcome.passed and "'fickling' required by policy" in outcome.detail
    # a clean scan only counts for the model that was scanned
    assert evaluate_artifact_safe(evidence, relaxed, expected_digest=folder_digest(model)).passed
    (model / "model.json").write_text('{"architecture": "other"}')
    outcome = evaluate_artifact_safe(evidence, relaxed, expected_digest=folder_digest(model))
    assert not outcome.passed and "are not the model being signed or promoted" in outcome.detail


def test_empty_folder_and_missing_path(tmp_path):
    (tmp_path / "empty").mkdir()
    outcome = evaluate_artifact_safe(scan_path(tmp_path / "empty", POLICY).to_dict(), POLICY)
    assert not outcome.passed and "no files were scanned" in outcome.detail
    with pytest.raises(ArtifactError, match="does not exist"):
        scan_path(tmp_path / "nope", POLICY)


def test_nothing_was_executed():
    assert not Path("/tmp/mlsecops-owned").exists()
