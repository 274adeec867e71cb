"""No network at run time: a pipeline run touches nothing but loopback.

The run happens in a subprocess with `tests/netguard` on PYTHONPATH: its `sitecustomize` installs an
audit hook that records (and refuses, before anything is sent) every name lookup, connect and send to
a non-loopback destination, in that process and in every Python process it starts or forks. The
environment is a user's, not the test runner's: no telemetry switches, no CI or pytest variables
(MLflow turns its telemetry off by itself under pytest or CI, which would hide the bug).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUARD = Path(__file__).resolve().parent / "netguard"


def _user_env(home: Path, log: Path) -> dict[str, str]:
    """A plain user's environment: what `mlsecops` must make offline by itself."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home.parent), "COLUMNS": "200",
            "MLSECOPS_HOME": str(home), "PYTHONPATH": str(GUARD), "MLSECOPS_NETGUARD_LOG": str(log)}


def _records(log: Path) -> tuple[list[dict], list[dict]]:
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [r for r in lines if r["event"] == "armed"], [r for r in lines if r["event"] != "armed"]


def test_pipeline_run_makes_no_non_loopback_connection(tmp_path: Path) -> None:
    log = tmp_path / "net.jsonl"
    done = subprocess.run([sys.executable, "-m", "mlsecops", "run", "--pipeline", "patients"], cwd=ROOT,
                          env=_user_env(tmp_path / "home", log), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "awaiting approval" in done.stdout
    armed, attempts = _records(log)
    assert armed, "the network guard was not loaded in the run's process"
    assert attempts == [], f"non-loopback network attempts during `mlsecops run`: {attempts}"
    config = (tmp_path / "home" / "dagster" / "dagster.yaml").read_text()
    assert "telemetry:\n  enabled: false" in config


def test_guard_catches_a_real_connect_before_it_leaves(tmp_path: Path) -> None:
    """The guard is not vacuous: lookups and connects off the machine are caught (and refused),
    loopback is not. 192.0.2.1 is TEST-NET-1 (RFC 5737, documentation only, never routed)."""
    log = tmp_path / "net.jsonl"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    probe = f"""
import json, os, socket
assert any(json.loads(l)["event"] == "armed" for l in open(os.environ["MLSECOPS_NETGUARD_LOG"])), "guard not armed"
outcome = {{}}
for name, call in [("connect", lambda: socket.socket().connect(("192.0.2.1", 9))),
                   ("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53))),
                   ("dns", lambda: socket.getaddrinfo("config.mlflow-telemetry.io", 443))]:
    try:
        call()
        outcome[name] = "sent"
    except OSError as exc:
        outcome[name] = "refused" if "network test" in str(exc) else f"other: {{exc}}"
socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
outcome["loopback"] = "ok"
print(json.dumps(outcome))
"""
    try:
        done = subprocess.run([sys.executable, "-c", probe], env=_user_env(tmp_path / "home", log),
                              capture_output=True, text=True, timeout=60)
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"connect": "refused", "udp": "refused", "dns": "refused", "loopback": "ok"}
    armed, attempts = _records(log)
    assert armed
    assert [(r["event"], r["host"]) for r in attempts] == [
        ("socket.connect", "192.0.2.1"), ("socket.sendto", "192.0.2.1"),
        ("socket.getaddrinfo", "config.mlflow-telemetry.io")]
