"""The `mlsecops` command: runs through Dagster, verifies, prints evidence, fails in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MLSECOPS = [sys.executable, "-m", "mlsecops"]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"MLSECOPS_HOME": str(home), "PATH": "/usr/bin:/bin", "GX_ANALYTICS_ENABLED": "false",
           "HOME": str(home.parent), "COLUMNS": "200"}
    return subprocess.run([*MLSECOPS, *args], capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1])


def test_run_verify_and_evidence(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _cli(home, "run", "--pipeline", "digits")
    assert done.returncode == 0, done.stderr
    for step in ("raw_data", "validated_data", "trained_model", "signed_model", "promotion"):
        assert step in done.stdout
    assert "awaiting approval" in done.stdout and "Traceback" not in done.stdout + done.stderr

    model_sha = _cli(home, "candidate", "-p", "digits").stdout.strip()
    assert len(model_sha) == 64
    selfie = _cli(home, "approve", "-p", "digits", "--model", model_sha, "--identity", "trainer",
                  "--role", "release-manager")
    assert selfie.returncode == 1 and "separation of duty" in selfie.stderr
    wrong = _cli(home, "approve", "-p", "digits", "--model", "0" * 64, "--identity", "demo-approver")
    assert wrong.returncode == 1 and "is not the candidate" in wrong.stderr
    ok = _cli(home, "approve", "-p", "digits", "--model", model_sha, "--identity", "demo-approver")
    assert ok.returncode == 0, ok.stderr
    promoted = _cli(home, "promote", "-p", "digits")
    assert promoted.returncode == 0 and "production" in promoted.stdout, promoted.stderr
    again = _cli(home, "rollback", "-p", "digits")
    assert again.returncode == 1 and "nothing to roll back to" in again.stderr
    assert "intact" in _cli(home, "audit", "verify").stdout
    story = json.loads(_cli(home, "audit", "explain", "-p", "digits", "--json").stdout)
    assert story["decision"]["outcome"].startswith("PROMOTED") and story["model"]["sha256"] == model_sha
    assert story["approvals"]["approved_by"] == ["demo-approver"]

    model = next(home.glob("artifacts/digits/*/trained_model/model"))
    ok = _cli(home, "verify", str(model))
    assert ok.returncode == 0 and "verified" in ok.stdout
    (model / "model.json").write_text("{}")
    bad = _cli(home, "verify", str(model))
    assert bad.returncode == 1 and "does not verify" in bad.stderr and "Traceback" not in bad.stderr

    shown = _cli(home, "evidence", "digits", "--step", "raw_data", "--json")
    assert shown.returncode == 0 and '"rows": 1797' in shown.stdout


def test_errors_are_one_line(tmp_path: Path) -> None:
    done = _cli(tmp_path / "home", "evidence", "nothing")
    assert done.returncode == 1 and "no evidence for pipeline 'nothing'" in done.stderr
    done = _cli(tmp_path / "home", "run", "--pipeline", "nope")
    assert done.returncode == 1 and "unknown pipeline 'nope'" in done.stderr
    assert "Traceback" not in done.stderr
