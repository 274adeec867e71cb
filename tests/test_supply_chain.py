"""Supply chain end to end: one real `patients` run through Dagster, then the tamper matrix.

Every tamper case must be refused both by promotion (the same `promote` the Dagster asset runs,
re-verifying all evidence by itself) and by the verified loader, each with a reason naming it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mlsecops.trust.keyring import KeyRing

from mlsecops.controls.model.signing import sign_model
from mlsecops.core.errors import MlsecopsError, PromotionRefused
from mlsecops.stages import promotion
from mlsecops.pipelines.registry import get_pipeline
from mlsecops.stages.signed_model import load_pipeline_model
from mlsecops.resources import MlflowResource, MlsecopsResource
from tests.conftest import PRE_PROMOTION, Env, approve, check_results, make_env, materialized, step_failures

SUPPLY_CHECKS = {"artifact_safe", "provenance_verified", "signature_verifies"}


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo owned > /tmp/mlsecops-owned",))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("supply") / "home"
    old = os.environ.get("MLSECOPS_HOME")
    os.environ["MLSECOPS_HOME"] = str(root)
    env = make_env(root)
    result = env.run("patients", PRE_PROMOTION)
    approve(env, "patients")  # the release approval promotion requires (demo approver, not the trainer)
    yield env, (result, env.run("patients", ["promotion"]))
    if old is None:
        os.environ.pop("MLSECOPS_HOME", None)
    else:
        os.environ["MLSECOPS_HOME"] = old


def _ctx(env: Env):
    res = MlsecopsResource(home=str(env.home.root))
    return res.stage_context(get_pipeline("patients"), f"tamper-{uuid.uuid4()}",
                             MlflowResource(tracking_uri=env.home.mlflow_uri), logging.getLogger("test"))


def _paths(env: Env) -> dict[str, Path]:
    store = env.store()
    signed = store.latest("patients", "signed_model").data
    return {"model": Path(store.latest("patients", "trained_model").data["model"]["path"]),
            "bundle": Path(signed["signature"]["bundle"]),
            "provenance": Path(signed["supply_chain"]["provenance"]["path"]),
            "sbom": Path(signed["supply_chain"]["sbom"]["path"]),
            "signed_evidence": store.latest_ref("patients", "signed_model").path}


def test_clean_run_scans_attests_and_promotes(run):
    env, (result, promoted) = run
    assert result.success, step_failures(result)
    assert promoted.success, step_failures(promoted)
    assert {"model_scan", "signed_model"} <= materialized(result) and materialized(promoted) == {"promotion"}
    checks = check_results(result)
    assert SUPPLY_CHECKS <= set(checks) and all(checks.values())
    decision = env.store().latest("patients", "promotion").data["decision"]
    assert decision["promoted"] and SUPPLY_CHECKS <= {c["check"] for c in decision["checks"]}
    assert decision["provenance_sha256"] and decision["sbom_sha256"]
    scan = env.store().latest("patients", "model_scan").data["scan"]
    assert {f["path"]: f["format"] for f in scan["files"]} == {"model.json": "json",
                                                               "model.safetensors": "safetensors"}
    net, meta, signed = load_pipeline_model(_ctx(env), _ctx(env).policy)
    assert signed.digest == decision["model_sha256"] and meta["pipeline"] == "patients"


def test_bundles_verify_with_upstream_model_signing_cli(run):
    env, _ = run
    p = _paths(env)
    cli = Path(sys.executable).with_name("model_signing")
    done = subprocess.run([str(cli), "verify", "key", "--signature", str(p["bundle"]), "--public_key",
                           str(env.home.keys / "trainer.pub"), str(p["model"])], capture_output=True, text=True)
    assert done.returncode == 0 and "Verification succeeded" in done.stdout, done.stdout + done.stderr


def _flip(p, env):
    w = p["model"] / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[len(data) // 2] ^= 0x01
    w.write_bytes(bytes(data))


def _untrusted(p, env):
    _flip(p, env)
    sign_model(p["model"], KeyRing(env.home.root / "mallory-keys").private_key("trainer"), p["bundle"])


def _other_model(p, env) -> tuple[Path, Path]:
    """A different model, validly signed by the trusted trainer key."""
    other = env.home.root / "other" / "model"
    shutil.rmtree(other.parent, ignore_errors=True)
    shutil.copytree(p["model"], other)
    meta = json.loads((other / "model.json").read_text())
    (other / "model.json").write_text(json.dumps({**meta, "features": meta["features"][::-1]}))
    return other, sign_model(other, KeyRing(env.home.keys).private_key("trainer"))


def _replay_bundle(p, env):
    shutil.copy(_other_model(p, env)[1], p["bundle"])


def _replay_model_and_bundle(p, env):
    other, bundle = _other_model(p, env)
    shutil.rmtree(p["model"])
    shutil.copytree(other, p["model"])
    shutil.copy(bundle, p["bundle"])


def _alter_provenance(p, env):
    envelope = json.loads(p["provenance"].read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["buildDefinition"]["externalParameters"]["pipeline"] = "digits"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    p["provenance"].write_text(json.dumps(envelope))


def _alter_evidence(p, env):
    doc = json.loads(p["signed_evidence"].read_text())
    doc["data"]["signature"]["identity"] = "mallory"
    p["signed_evidence"].write_text(json.dumps(doc))


def _alter_sbom(p, env):
    sbom = json.loads(p["sbom"].read_text())
    sbom["components"] = [c for c in sbom["components"] if c.get("name") != "torch"]
    p["sbom"].write_text(json.dumps(sbom))


def _removed_key(p, env):
    keys = KeyRing(env.home.keys)
    old = keys.fingerprint("trainer")
    keys.rotate("trainer")
    keys.untrust(old)


TAMPER = {  # case -> (tamper, what promotion's reason must say, what the loader's reason must say)
    "weights byte flipped": (_flip, "model.safetensors changed", "model.safetensors changed"),
    "file added": (lambda p, e: (p["model"] / "extra.pkl").write_bytes(pickle.dumps(_Exploit())),
                   "extra.pkl was added", "extra.pkl was added"),
    "file added where model-signing does not look": (
        lambda p, e: (p["model"] / ".gitattributes").write_text("* filter=evil\n"),
        ".gitattributes was added", ".gitattributes was added"),
    "file removed": (lambda p, e: (p["model"] / "model.json").unlink(), "model.json is missing",
                     "model.json is missing"),
    "file renamed": (lambda p, e: (p["model"] / "model.json").rename(p["model"] / "config.json"),
                     "config.json was added; model.json is missing", "config.json was added; model.json is missing"),
    "untrusted key": (_untrusted, "which is not trusted for 'trainer'", "which is not trusted for 'trainer'"),
    "removed key": (_removed_key, "which is not trusted for 'trainer'", "which is not trusted for 'trainer'"),
    "bundle of another model replayed": (_replay_bundle, "model.json changed", "model.json changed"),
    "model and bundle of another model replayed": (_replay_model_and_bundle, "not the trained model",
                                                   "a valid bundle of another model"),
    "provenance altered": (_alter_provenance, "statement was altered after signing",
                           "statement was altered after signing"),
    "evidence altered after signing": (_alter_evidence, "altered after it was written", "altered after it was written"),
    "SBOM altered after signing": (_alter_sbom, "SBOM", "material 'sbom'"),
}


@pytest.fixture
def pristine(run, tmp_path):
    """Snapshot the home's files; restore them after the case."""
    env, _ = run
    saved = {}
    for name in ("artifacts", "evidence", "keys", "mlartifacts"):
        src = env.home.root / name
        saved[src] = tmp_path / name
        shutil.copytree(src, saved[src], symlinks=True)
    yield env
    for src, copy in saved.items():
        shutil.rmtree(src)
        shutil.copytree(copy, src, symlinks=True)
    shutil.rmtree(env.home.root / "other", ignore_errors=True)


@pytest.mark.parametrize("case", list(TAMPER))
def test_tamper_is_refused_at_promotion_and_at_load(pristine, case):
    env = pristine
    tamper, at_promotion, at_load = TAMPER[case]
    p = _paths(env)
    tamper(p, env)
    with pytest.raises(PromotionRefused) as refused:
        promotion.promote(_ctx(env))
    assert at_promotion in str(refused.value), str(refused.value)
    print(f"\n[{case}] promotion: {refused.value}")
    assert env.tracker().alias_version("patients", "production") == "1"
    ctx = _ctx(env)
    with pytest.raises(MlsecopsError) as refused_load:
        load_pipeline_model(ctx, ctx.policy)
    assert at_load in str(refused_load.value), str(refused_load.value)
    print(f"[{case}] load: {refused_load.value}")


def test_pickle_in_model_folder_blocks_signing_through_dagster(pristine):
    env = pristine
    p = _paths(env)
    (p["model"] / "model.safetensors").write_bytes(pickle.dumps(_Exploit()))
    result = env.run("patients", ["model_scan", "signed_model"])
    assert check_results(result).get("artifact_safe") is False
    assert "signed_model" not in materialized(result)
    failed = env.store().latest("patients", "check.artifact_safe").data
    assert "model.safetensors: content is pickle" in failed["detail"] and "posix.system" in failed["detail"]
    assert not Path("/tmp/mlsecops-owned").exists()


def test_key_rotation_keeps_old_signatures_until_the_old_key_is_untrusted(pristine):
    env = pristine
    keys = KeyRing(env.home.keys)
    old = keys.fingerprint("trainer")
    new = keys.rotate("trainer")
    assert new != old and {old, new} == set(keys.trusted("trainer"))
    ctx = _ctx(env)
    assert load_pipeline_model(ctx, ctx.policy)[2].digest  # still trusted during the overlap
    keys.untrust(old[:16])
    with pytest.raises(MlsecopsError, match="not trusted"):
        load_pipeline_model(ctx, ctx.policy)


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"MLSECOPS_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(home.parent), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "mlsecops", *args], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).parents[1])


def test_scan_artifact_cli(run, tmp_path):
    env, _ = run
    ok = _cli(tmp_path / "home", "scan-artifact", str(_paths(env)["model"]))
    assert ok.returncode == 0 and "safe" in ok.stderr, ok.stderr
    hostile = tmp_path / "weights.safetensors"
    hostile.write_bytes(pickle.dumps(_Exploit()))
    bad = _cli(tmp_path / "home", "scan-artifact", str(hostile))
    assert bad.returncode == 1 and "content is pickle" in bad.stderr and "posix.system" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_project_code_never_unpickles():
    """The only loader is load_verified_model: no torch.load without weights_only, no pickle loads."""
    import re

    root = Path(__file__).parents[1] / "mlsecops"
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"torch\.load\([^)]*\)", text):
            if "weights_only=True" not in match.group(0):
                offenders.append(f"{path.name}: {match.group(0)}")
        offenders += [f"{path.name}: {m}" for m in re.findall(r"(?:pickle|joblib|dill|cloudpickle)\.loads?\(", text)]
    assert offenders == []
