"""Offline defaults: telemetry switches at import, the instance's dagster.yaml, the policy cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlsecops import OFFLINE_ENV, offline_env
from mlsecops.core.home import Home
from mlsecops.core.errors import PolicyError
from mlsecops.core.policy import DEFAULT_POLICY
from mlsecops.policy import load_policy

GUARD = Path(__file__).resolve().parent / "netguard"


def _plain_env() -> dict[str, str]:
    """No telemetry switches, no pytest/CI variables; the network guard refuses anything off loopback
    (an MLflow telemetry client, if one starts, must not reach the network from a test)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(GUARD)}


def test_importing_mlsecops_turns_telemetry_off_before_mlflow_starts() -> None:
    probe = ("import mlsecops, os, mlflow.telemetry as t; "
             "print(os.environ['MLFLOW_DISABLE_TELEMETRY'], os.environ['DO_NOT_TRACK'], "
             "os.environ['DAGSTER_DISABLE_TELEMETRY'], t.get_telemetry_client() is None)")
    env = _plain_env()
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["true", "true", "true", "True"]


def test_mlflow_imported_first_loses_its_telemetry_client() -> None:
    probe = ("import mlflow.telemetry as t; before = t.get_telemetry_client() is None; import mlsecops; "
             "print(before, t.get_telemetry_client() is None)")
    env = _plain_env()
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_offline_env_for_a_child_process() -> None:
    env = offline_env({"MLFLOW_DISABLE_TELEMETRY": "false", "OTHER": "kept"})
    assert env == {**OFFLINE_ENV, "OTHER": "kept"}


def test_home_writes_a_telemetry_free_dagster_yaml_once(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    config = home.dagster / "dagster.yaml"
    assert yaml.safe_load(config.read_text()) == {"telemetry": {"enabled": False}}
    assert [p.name for p in home.dagster.iterdir()] == ["dagster.yaml"]  # no temp file left behind
    config.write_text("telemetry:\n  enabled: false\nretention: {}\n")
    home.ensure()
    assert "retention" in config.read_text()  # an operator's own instance config is kept


def test_policy_is_parsed_again_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(DEFAULT_POLICY.read_text())
    first = load_policy(path)
    assert load_policy(path) is first  # same bytes: the validated policy is reused
    raw = yaml.safe_load(path.read_text())
    raw["training"]["min_test_accuracy"] = 0.5
    path.write_text(yaml.safe_dump(raw))
    changed = load_policy(path)
    assert changed.training.min_test_accuracy == 0.5 and changed.digest != first.digest
    path.write_text("training: {min_test_accuracy: [1]}\n")
    with pytest.raises(PolicyError, match="min_test_accuracy"):
        load_policy(path)
