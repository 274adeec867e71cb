"""The adversarial control on real reference data: attacks measure, gates decide, budgets are checked first."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mlsecops.controls.model.adversarial.plots import PlotError, PlotSpec, PlotWriter
from mlsecops.controls.model.adversarial.engine import (AttackBudgetError, AttackDataError, evaluate_adversarial,
                                           evaluate_gate, evaluate_model, gates_for, prepare_data)
from mlsecops.core.errors import EvidenceError, PolicyError
from mlsecops.core.fileio import canonical_json, sha256_file
from mlsecops.models.nets import build_net
from mlsecops.models.training import TrainConfig, fit, split_indices, train_classifier
from mlsecops.pipelines.digits import DIGITS
from mlsecops.pipelines.digits import make_frame as digits_frame
from mlsecops.pipelines.patients import PATIENTS
from mlsecops.pipelines.patients import make_frame as patients_frame
from mlsecops.controls.model.adversarial.policy import AdversarialPolicy
from mlsecops.policy import Policy, load_policy

TABULAR = ("fgsm", "pgd", "hopskipjump", "membership", "copycat")
IMAGE = ("fgsm", "pgd", "hopskipjump", "membership", "miface", "copycat", "corruptions")


def small_budget(**override: dict) -> AdversarialPolicy:
    """The packaged policy's thresholds with budgets cut down so the tests stay fast."""
    base = load_policy().adversarial.model_dump()
    base.update(samples=80)
    base["evasion"].update(eps=[0.02, 0.1], pgd_max_iter=5)
    base["hopskipjump"].update(samples=3, max_iter=2, max_eval=50, init_eval=10)
    base["membership"].update(max_rows=150, bootstrap=50)
    base["extraction"].update(queries=[10, 50], epochs=5)
    base["inversion"].update(max_iter=20)
    for key, value in override.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) else value
    return AdversarialPolicy.model_validate(base)


def _xy(spec, frame):
    return frame[spec.schema.features].to_numpy(np.float32), frame[spec.schema.label].to_numpy(np.int64)


@pytest.fixture(scope="module")
def patients():
    X, y = _xy(PATIENTS, patients_frame())
    t = load_policy().for_pipeline("patients").training
    net_config = {**PATIENTS.net, "in_features": X.shape[1], "classes": 2}
    result = train_classifier(X, y, net_config, TrainConfig(seed=t.seed, epochs=t.epochs, weight_decay=t.weight_decay))
    return result.net, prepare_data(X, y, result.train_index, result.test_index), (X, y, net_config)


@pytest.fixture(scope="module")
def patients_report(patients, tmp_path_factory):
    net, data, _ = patients
    plots = tmp_path_factory.mktemp("plots")
    return evaluate_model(net, data, TABULAR, small_budget(), plots).to_dict(), plots


def test_every_attack_reports_numbers_and_the_evidence_is_json(patients_report) -> None:
    evidence, plots = patients_report
    assert set(evidence["attacks"]) == set(TABULAR)
    json.loads(canonical_json(evidence))  # JSON-able, no NaN
    for name, result in evidence["attacks"].items():
        assert result["atlas"].startswith("AML.T00"), name
        assert result["seconds"] > 0 and result["queries"] > 0, name
    pgd = evidence["attacks"]["pgd"]["metrics"]
    assert pgd["clean_accuracy"] > 0.9 and pgd["samples"] == 80
    assert pgd["robust_accuracy"]["0.1"] < pgd["robust_accuracy"]["0.02"] <= pgd["clean_accuracy"]
    hsj = evidence["attacks"]["hopskipjump"]["metrics"]
    assert hsj["samples"] == 3 and 0 <= hsj["bounded_success_rate"] <= hsj["success_rate"] <= 1
    assert hsj["queries_per_row"] > 10  # a decision-based attack needs many queries
    mia = evidence["attacks"]["membership"]["metrics"]
    assert mia["advantage_ci95"][0] <= mia["advantage"] <= mia["advantage_ci95"][1]
    assert 0 <= mia["auc"] <= 1 and mia["members"] == mia["non_members"] == 143
    copy = evidence["attacks"]["copycat"]
    assert set(copy["metrics"]["agreement"]) == {"10", "50"} and copy["queries"] == 60
    assert set(evidence["plots"]) == {"robust_accuracy", "membership_roc", "extraction_agreement"}
    for plot in evidence["plots"].values():
        assert Path(plot["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert sha256_file(Path(plot["path"])) == plot["sha256"]


def test_reference_patients_model_passes_the_default_gates(patients_report) -> None:
    evidence, _ = patients_report
    policy = load_policy().for_pipeline("patients").adversarial
    outcomes = {o.check: o for o in evaluate_adversarial(evidence, policy)}
    assert set(outcomes) == {"robust_accuracy", "query_evasion", "membership_inference", "model_extraction"}
    assert all(o.passed for o in outcomes.values()), [o.detail for o in outcomes.values() if not o.passed]
    assert outcomes["membership_inference"].atlas == "AML.T0024.000"
    assert outcomes["model_extraction"].atlas == "AML.T0024.002"
    assert outcomes["robust_accuracy"].policy_key == "adversarial.evasion.min_robust_accuracy"


def test_a_too_strict_policy_fails_the_gates(patients_report) -> None:
    evidence, _ = patients_report
    strict = small_budget(evasion={"min_robust_accuracy": 0.99}, hopskipjump={"max_success_rate": 0.0, "l2_bound": 100.0},
                          membership={"max_advantage": -1.0}, extraction={"max_agreement": 0.5})
    outcomes = {o.check: o for o in evaluate_adversarial(evidence, strict)}
    assert not any(o.passed for o in outcomes.values()), {k: o.detail for k, o in outcomes.items() if o.passed}
    assert "< 0.99" in outcomes["robust_accuracy"].detail
    gate = str(strict.extraction.gate_queries)
    assert outcomes["model_extraction"].value == round(evidence["attacks"]["copycat"]["metrics"]["agreement"][gate], 4)


def test_an_overfit_model_trips_the_membership_gate(patients) -> None:
    """No regularization, a wide layer, long training and 20% of training labels flipped: the net
    memorizes its rows. (Measured advantage 0.20-0.27 over initial weights and thread counts; a
    shorter 120-epoch run memorized the labels too but gave 0.04-0.18, too close to the gate.)"""
    _, _, (X, y, net_config) = patients
    cfg = TrainConfig(seed=7, epochs=300, learning_rate=0.003, weight_decay=0.0, batch_size=32)
    torch.manual_seed(0)  # the initial weights: build_net draws them from torch's global generator
    train, test = split_indices(y, cfg.test_fraction, cfg.seed)
    noisy = y.copy()
    flip = np.random.default_rng(1).random(len(train)) < 0.2
    noisy[train[flip]] = 1 - noisy[train[flip]]
    net = fit(build_net({**net_config, "hidden": 512}), X[train], noisy[train], cfg)
    data = prepare_data(X, noisy, train, test)
    budget = small_budget()
    evidence = evaluate_model(net, data, ("membership",), budget).to_dict()
    outcome = evaluate_gate("membership_inference", evidence, load_policy().for_pipeline("patients").adversarial)
    assert not outcome.passed, outcome.detail
    assert outcome.value > 0.15 and "AUC" in outcome.detail


def test_an_attacks_numbers_do_not_depend_on_the_attacks_before_it(patients) -> None:
    """Every attack starts from the policy seed: the membership model's draws do not shift HopSkipJump's."""
    net, data, _ = patients
    budget = small_budget()
    alone = evaluate_model(net, data, ("hopskipjump",), budget).to_dict()["attacks"]["hopskipjump"]["metrics"]
    after = evaluate_model(net, data, ("membership", "hopskipjump"), budget).to_dict()["attacks"]["hopskipjump"]["metrics"]
    assert alone == after


def test_plots_drawn_by_the_forked_renderer_equal_inline_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    specs = {"roc": PlotSpec.of("roc", fpr=np.linspace(0, 1, 50), tpr=np.linspace(0, 1, 50) ** 0.5, auc=0.7,
                                advantage=np.float64(0.1)),
             "grid": PlotSpec.of("corruption_grid", clean=rng.random((3, 64)), side=8,
                                 corrupted={"noise": rng.random((3, 64)), "blur": rng.random((3, 64))})}
    json.dumps([s.args for s in specs.values()])  # specs are plain JSON: nothing is pickled to the renderer
    written = {}
    for parallel in (True, False):
        writer = PlotWriter(tmp_path / str(parallel), parallel=parallel)
        assert (writer.renderer is not None) is parallel
        writer.submit({"roc": specs["roc"]})
        writer.submit({"grid": specs["grid"]})
        written[parallel] = writer.finish()
    assert list(written[True]) == ["roc", "grid"]
    assert {k: v["sha256"] for k, v in written[True].items()} == {k: v["sha256"] for k, v in written[False].items()}


@pytest.mark.parametrize("parallel", [True, False])
def test_a_plot_that_cannot_be_drawn_fails_clearly_and_leaves_no_file(tmp_path: Path, parallel: bool) -> None:
    with pytest.raises(PlotError, match="unknown plot kind 'pie'"):
        PlotSpec.of("pie", values=[1, 2])
    writer = PlotWriter(tmp_path, parallel=parallel)
    writer.submit({"roc": PlotSpec("roc", {"fpr": [0.0, 1.0]})})  # tpr, auc, advantage missing
    with pytest.raises(PlotError, match=r"plot 'roc' \(roc\) could not be drawn: TypeError"):
        writer.finish()
    assert list(tmp_path.iterdir()) == []


def test_a_killed_renderer_is_replaced_by_inline_drawing(tmp_path: Path) -> None:
    spec = PlotSpec.of("agreement", agreement={"10": 0.9, "50": 0.95}, accuracy={"10": 0.85, "50": 0.9}, victim=0.93)
    writer = PlotWriter(tmp_path / "killed", parallel=True)
    writer.renderer.kill()
    writer.renderer.join()
    writer.submit({"extraction_agreement": spec})
    killed = writer.finish()
    inline = PlotWriter(tmp_path / "inline", parallel=False)
    inline.submit({"extraction_agreement": spec})
    assert killed["extraction_agreement"]["sha256"] == inline.finish()["extraction_agreement"]["sha256"]


def test_image_attacks_on_a_small_digits_cnn(tmp_path: Path) -> None:
    X, y = _xy(DIGITS, digits_frame())
    keep = np.random.default_rng(0).permutation(len(y))[:600]
    X, y = X[keep], y[keep]
    torch.manual_seed(0)
    result = train_classifier(X, y, {**DIGITS.net, "in_features": 64, "classes": 10},
                              TrainConfig(seed=7, epochs=15, learning_rate=0.003))
    data = prepare_data(X, y, result.train_index, result.test_index, image_side=8)
    assert data.lower.min() == 0 and np.allclose(data.span, 16)  # one range for all pixels
    budget = small_budget(samples=60)
    evidence = evaluate_model(result.net, data, ("pgd", "miface", "corruptions"), budget, tmp_path).to_dict()
    inversion = evidence["attacks"]["miface"]["metrics"]
    assert inversion["classes"] == 10 and len(inversion["similarity"]) == 10
    assert -1 <= inversion["mean_similarity"] <= 1
    corr = evidence["attacks"]["corruptions"]["metrics"]
    assert set(corr["accuracy"]) == {"gaussian_noise", "gaussian_blur", "contrast", "dropout"}
    assert {"pgd_examples", "miface_reconstructions", "corruption_examples", "robust_accuracy"} <= set(evidence["plots"])
    outcomes = {o.check: o for o in evaluate_adversarial(evidence, budget)}
    assert set(outcomes) == {"robust_accuracy", "model_inversion", "corruption_robustness"}
    assert outcomes["model_inversion"].atlas == "AML.T0024.001"
    strict = small_budget(inversion={"max_similarity": -1.0}, corruptions={"min_accuracy": 1.0})
    assert not evaluate_gate("model_inversion", evidence, strict).passed
    assert not evaluate_gate("corruption_robustness", evidence, strict).passed


def test_budgets_are_checked_before_any_attack_runs(patients) -> None:
    net, data, _ = patients

    class Exploding(torch.nn.Module):
        def forward(self, x):  # any attack that ran would call the model
            raise AssertionError("an attack ran before the budgets were validated")

    too_many = small_budget(extraction={"queries": [25, 5000], "gate_queries": 25}, hopskipjump={"samples": 500})
    with pytest.raises(AttackBudgetError) as err:
        evaluate_model(Exploding(), data, TABULAR, too_many)
    assert "adversarial.extraction.queries [5000]" in str(err.value)
    assert "adversarial.hopskipjump.samples (500)" in str(err.value)
    with pytest.raises(AttackBudgetError, match="gaussian_blur applies to images only"):
        evaluate_model(Exploding(), data, ("corruptions",), small_budget())
    with pytest.raises(AttackBudgetError, match="unknown attack"):
        evaluate_model(net, data, ("deepfool",), small_budget())


@pytest.mark.parametrize("text, named", [
    ("adversarial:\n  evasion:\n    gate_eps: 0.3\n", "adversarial.evasion"),
    ("adversarial:\n  extraction:\n    gate_queries: 7\n", "adversarial.extraction"),
    ("adversarial:\n  membership:\n    attack_model: svm\n", "adversarial.membership.attack_model"),
    ("adversarial:\n  hopskipjump:\n    max_iters: 3\n", "adversarial.hopskipjump.max_iters: unknown key"),
])
def test_bad_adversarial_policy_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=named.replace(".", r"\.")):
        load_policy(path)


def test_gates_refuse_missing_results_and_bad_rows() -> None:
    budget = Policy().adversarial
    with pytest.raises(EvidenceError, match="no result for attack 'membership'"):
        evaluate_gate("membership_inference", {"attacks": {}}, budget)
    with pytest.raises(EvidenceError, match="no accuracy at eps 0.02"):
        evaluate_gate("robust_accuracy", {"attacks": {"pgd": {"curve": {"0.5": 0.1}, "metrics": {}}}}, budget)
    # the query-evasion gate recounts the recorded per-row L2 distances under the policy's bound
    hsj = {"samples": 4, "success_rate": 0.75, "median_l2": 0.3, "queries_per_row": 200,
           "evaded_l2": [0.05, 0.3, None, 2.0]}
    evidence = {"attacks": {"hopskipjump": {"metrics": hsj}}, "data": {"features": 25}}
    assert evaluate_gate("query_evasion", evidence, budget).value == 0.25        # bound 0.02 * 5 = 0.1
    loose = small_budget(hopskipjump={"l2_bound": 1.0})
    assert evaluate_gate("query_evasion", evidence, loose).value == 0.5 and evaluate_gate(
        "query_evasion", evidence, loose).passed
    assert [g.check for g in gates_for(("fgsm", "pgd"))] == ["robust_accuracy"]
    assert len(gates_for(IMAGE)) == 6 and len(gates_for(TABULAR)) == 4
    with pytest.raises(AttackDataError, match="one label per row"):
        prepare_data(np.zeros((5, 3)), np.zeros(4), np.arange(3), np.arange(3, 5))
    with pytest.raises(AttackDataError, match="non-finite"):
        prepare_data(np.full((5, 3), np.nan), np.zeros(5), np.arange(3), np.arange(3, 5))
