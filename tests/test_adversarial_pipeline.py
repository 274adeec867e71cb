"""adversarial_evaluation through Dagster: it runs on the signed model, gates block, promotion re-checks."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PRE_PROMOTION, approve, check_results, make_env, materialized, step_failures

# Light budgets: these tests are about the wiring; the numbers are tested in test_adversarial.py.
LIGHT = """
adversarial:
  samples: 80
  evasion: {eps: [0.02, 0.1], pgd_max_iter: 5}
  hopskipjump: {samples: 3, max_iter: 2, max_eval: 50, init_eval: 10}
  membership: {max_rows: 150, bootstrap: 50}
  extraction: {queries: [25, 50], epochs: 5}
  inversion: {max_iter: 20}
"""

ADVERSARIAL_CHECKS = {"robust_accuracy", "query_evasion", "membership_inference", "model_inversion",
                      "model_extraction", "corruption_robustness"}


def _env(tmp_path: Path, extra: str = ""):
    policy = tmp_path / "policy.yaml"
    policy.write_text(LIGHT + extra, encoding="utf-8")
    return make_env(tmp_path / "home", policy_path=str(policy))


def test_digits_evaluation_gates_plots_and_a_stricter_policy_blocks(tmp_path: Path) -> None:
    env = _env(tmp_path)
    result = env.run("digits", PRE_PROMOTION)
    assert result.success, step_failures(result)
    assert "adversarial_evaluation" in materialized(result)
    checks = check_results(result)
    assert ADVERSARIAL_CHECKS <= set(checks) and all(checks.values()), checks

    doc = env.store().latest("digits", "adversarial_evaluation").data
    attacks = doc["adversarial"]["attacks"]
    assert set(attacks) == {"fgsm", "pgd", "hopskipjump", "membership", "miface", "copycat", "corruptions"}
    assert all(a["metrics"] and a["seconds"] > 0 for a in attacks.values())
    assert doc["model"]["sha256"] == env.store().latest("digits", "trained_model").data["model"]["sha256"]
    check_doc = env.store().latest("digits", "check.model_inversion").data
    assert check_doc["atlas"] == "AML.T0024.001" and check_doc["threshold"] == 0.9

    # plots are logged to the model's MLflow run and linked from the asset's metadata
    logged = {Path(f.path).name for f in env.tracker().client.list_artifacts(doc["mlflow"]["run_id"], "adversarial")}
    assert {"robust_accuracy.png", "pgd_examples.png", "miface_reconstructions.png",
            "membership_roc.png"} <= logged
    mat = env.instance.get_latest_materialization_event(
        __import__("dagster").AssetKey(["digits", "adversarial_evaluation"])).asset_materialization
    assert mat.metadata["plot_robust_accuracy"].path.endswith("robust_accuracy.png")
    assert mat.metadata["plots_mlflow"].value.endswith("/adversarial")

    # The same home under a stricter policy: re-running the stage alone blocks, and an approved
    # solo promotion re-evaluates the gates itself and refuses.
    strict = tmp_path / "strict.yaml"
    strict.write_text(LIGHT + "  # stricter\npipelines:\n  digits:\n    adversarial:\n"
                      "      extraction: {max_agreement: 0.1}\n", encoding="utf-8")
    env = make_env(tmp_path / "home", policy_path=str(strict))
    result = env.run("digits", ["adversarial_evaluation"])
    checks = check_results(result)
    assert checks["model_extraction"] is False and checks["membership_inference"] is True
    failed = env.store().latest("digits", "check.model_extraction").data
    assert failed["atlas"] == "AML.T0024.002" and failed["threshold"] == 0.1 and failed["value"] > 0.1
    approve(env, "digits")
    result = env.run("digits", ["promotion"])
    assert not result.success
    assert "model_extraction" in step_failures(result)["promotion"]
    assert env.tracker().alias_version("digits", "production") is None
