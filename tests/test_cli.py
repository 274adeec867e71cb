"""The `mlsecops` command: runs through Dagster, verifies, prints evidence, fails in one line."""

from __future__ import annotations

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
    assert "production" in done.stdout and "Traceback" not in done.stdout + done.stderr

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
