"""Poisoned-data screen, quarantine, fuzzing harness: unit level on the reference data, then through Dagster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlsecops.fuzzing.harness import FuzzError, inject, plant_rare, plot_report, render_table, run_fuzz, torch_trainer
from mlsecops.controls.data.integrity.poisoning import ScreenConfig, ScreenError, evaluate_screen, screen_table
from mlsecops.core.errors import PolicyError
from mlsecops.models.training import TrainConfig
from mlsecops.pipelines import digits, patients
from mlsecops.fuzzing.pipeline import fuzz_frames
from mlsecops.stages.screened_data import reference_positions, screen_config
from mlsecops.policy import load_policy
from tests.conftest import PRE_PROMOTION, Env, approve, check_results, materialized, step_failures

ID = "row"


def _data(module) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Candidates (source minus the trusted rows, with a row id) and the trusted slice."""
    frame = module.make_frame()
    features = module.SCHEMA.features
    ref_rows = reference_positions(frame["label"].to_numpy())
    reference = frame.iloc[ref_rows][[*features, "label"]].reset_index(drop=True)
    rest = np.setdiff1d(np.arange(len(frame)), ref_rows)
    candidates = frame.iloc[rest][[*features, "label"]].reset_index(drop=True)
    candidates[ID] = np.arange(len(candidates))
    return candidates, reference, features


@pytest.fixture(scope="module")
def patients_data():
    return _data(patients)


@pytest.fixture(scope="module")
def digits_data():
    return _data(digits)


def _screen(frame, reference, features):
    return screen_table(frame, reference, features=features, label="label", id_column=ID)


LIMITS = {"max_flagged_fraction": 0.03, "max_trigger_fraction": 0.005}


@pytest.mark.parametrize("which", ["patients_data", "digits_data"])
def test_clean_data_passes_and_rare_valid_rows_are_kept(which, request) -> None:
    candidates, reference, features = request.getfixturevalue(which)
    report = _screen(candidates, reference, features)
    assert report.flagged_fraction <= 0.025
    assert all(o.passed for o in evaluate_screen(report.to_dict(), **LIMITS))

    planted, swans = plant_rare(candidates, count=len(candidates) // 30, features=features, label="label",
                                id_column=ID, seed=5)
    report = _screen(planted, reference, features)
    kept = set(swans) - set(report.flagged_ids)
    assert len(kept) >= 0.9 * len(swans), "rare but label-consistent rows must not be quarantined"
    listed = {row["id"] for row in report.black_swans}
    assert len(listed & set(swans)) >= len(swans) // 2, "rare rows are reported as black swans"
    assert all(o.passed for o in evaluate_screen(report.to_dict(), **LIMITS))


def test_targeted_flips_are_quarantined_with_signals_and_reasons(patients_data) -> None:
    candidates, reference, features = patients_data
    inj = inject(candidates, attack="targeted_flip", rate=0.06, features=features, label="label", id_column=ID,
                 seed=1, source=0, target=1)
    report = _screen(inj.frame, reference, features)
    caught = set(report.flagged_ids) & set(inj.poisoned_ids)
    assert len(caught) >= 0.8 * len(inj.poisoned_ids)
    evidence = json.loads(json.dumps(report.to_dict()))           # the quarantine is plain JSON
    entry = next(row for row in evidence["flagged"] if row["id"] in caught)
    assert set(entry) >= {"id", "label", "signals", "votes", "reason"} and entry["reason"].startswith("poison:")
    assert set(entry["signals"]) == {"harm", "harm_quantile", "label_probability", "neighbour_agreement",
                                     "spectral", "novelty"}
    flagged, trigger = evaluate_screen(evidence, **LIMITS)
    assert not flagged.passed and flagged.atlas == "AML.T0020" and flagged.value > 0.03
    assert trigger.passed                                        # label flips plant no trigger
    assert report.keep_mask.sum() == len(inj.frame) - len(report.flagged)


def test_a_targeted_flip_campaign_is_detected_and_its_class_screened_harder(patients_data) -> None:
    """5% malignant rows relabelled benign: class 1 is flagged far above the normal alarm rate, so
    harmful rows there whose label the trusted model disputes are quarantined as well (issue target:
    recall >= 0.9 at FPR <= 5%); on clean data no class is under a campaign."""
    candidates, reference, features = patients_data
    config = screen_config(load_policy().for_pipeline("patients"))
    clean = screen_table(candidates, reference, features=features, label="label", id_column=ID, config=config)
    assert clean.campaigns == [] and clean.flagged_fraction <= 0.02
    inj = inject(candidates, attack="targeted_flip", rate=0.05, features=features, label="label", id_column=ID,
                 seed=3, source=0, target=1)
    report = screen_table(inj.frame, reference, features=features, label="label", id_column=ID, config=config)
    poisoned, flagged = set(inj.poisoned_ids), set(report.flagged_ids)
    assert len(flagged & poisoned) >= 0.9 * len(poisoned)
    assert len(flagged - poisoned) <= 0.05 * (len(inj.frame) - len(poisoned))
    (campaign,) = report.campaigns
    assert campaign["label"] == 1 and campaign["p_value"] < config.campaign_p_value and campaign["added"] >= 1
    added = [row for row in report.flagged if "campaign" in row["votes"]]
    assert len(added) == campaign["added"] and all("label campaign" in row["reason"] for row in added)
    assert report.to_dict()["campaigns"] == report.campaigns
    assert "label campaign suspected into class 1" in evaluate_screen(report.to_dict(), **LIMITS)[0].detail


def test_pixel_backdoor_is_found_as_a_trigger(digits_data) -> None:
    candidates, reference, features = digits_data
    inj = inject(candidates, attack="backdoor", rate=0.03, features=features, label="label", id_column=ID, seed=2)
    report = _screen(inj.frame, reference, features)
    assert set(inj.poisoned_ids) <= set(report.flagged_ids)
    (trigger,) = report.triggers
    assert trigger["label"] == 9 and set(trigger["columns"]) == {"pix_54", "pix_55", "pix_62", "pix_63"}
    outcome = evaluate_screen(report.to_dict(), **LIMITS)[1]
    assert not outcome.passed and outcome.atlas == "AML.T0043.004" and "pix_63" in outcome.detail


def test_fuzz_harness_measures_backdoor_success_with_and_without_screening(patients_data, tmp_path) -> None:
    candidates, reference, features = patients_data
    frame = candidates.drop(columns=ID)
    train = frame.sample(frac=0.75, random_state=0)
    test = frame.drop(train.index)
    trainer = torch_trainer({"architecture": "mlp", "hidden": 32, "in_features": 30, "classes": 2},
                            TrainConfig(epochs=30))
    report = run_fuzz(train, test, reference, features=features, label="label", trainer=trainer,
                      attacks=["backdoor"], rates=[0.05], seed=0, pipeline="patients")
    clean, bd = report.rows
    assert clean.attack == "clean" and clean.recall is None and clean.flagged_fraction <= 0.03
    assert bd.recall >= 0.9 and bd.trigger_found
    assert bd.asr_unscreened > 0.8 and bd.asr_screened <= 0.1
    assert bd.accuracy_screened >= 0.9
    png = plot_report(report, tmp_path / "fuzz.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert render_table(report).row_count == 2
    assert json.loads(json.dumps(report.to_dict()))["results"][1]["attack"] == "backdoor"


def test_bad_requests_fail_clearly(patients_data) -> None:
    candidates, reference, features = patients_data
    with pytest.raises(FuzzError, match="unknown attack 'typo'"):
        inject(candidates, attack="typo", rate=0.05, features=features, label="label", id_column=ID, seed=0)
    with pytest.raises(FuzzError, match="must be in"):
        inject(candidates, attack="label_flip", rate=0.7, features=features, label="label", id_column=ID, seed=0)
    with pytest.raises(FuzzError, match="only .* exist"):
        inject(candidates, attack="targeted_flip", rate=0.45, features=features, label="label", id_column=ID,
               seed=0, source=0, target=1)
    with pytest.raises(ScreenError, match="lacks column"):
        _screen(candidates.drop(columns="mean_radius"), reference, features)
    with pytest.raises(ScreenError, match="must cover every class"):
        _screen(candidates, reference[reference["label"] == 1], features)
    with pytest.raises(ScreenError, match="NaN"):
        broken = candidates.copy()
        broken.loc[3, "mean_area"] = np.nan
        _screen(broken, reference, features)
    with pytest.raises(ScreenError, match="min_votes"):
        ScreenConfig(min_votes=9)
    with pytest.raises(ScreenError, match="malformed"):
        evaluate_screen({"rows": 3}, **LIMITS)


def test_policy_section_is_validated(tmp_path: Path) -> None:
    policy = load_policy()
    assert policy.poisoning.max_flagged_fraction == 0.03
    bad = tmp_path / "policy.yaml"
    bad.write_text("poisoning:\n  max_flagged_fraction: 2\n  votes: 3\n")
    with pytest.raises(PolicyError) as err:
        load_policy(bad)
    assert "poisoning.max_flagged_fraction" in str(err.value) and "poisoning.votes: unknown key" in str(err.value)


def test_fuzz_frames_keep_trusted_rows_out() -> None:
    frame = patients.make_frame()
    reference = frame.iloc[reference_positions(frame["label"].to_numpy())][[*patients.SCHEMA.features, "label"]]
    train, test = fuzz_frames(frame, reference, patients.SCHEMA.features, "label", 0.25, 0)
    assert len(train) + len(test) == len(frame) - len(reference)
    both = pd.concat([train, test]).merge(reference, how="inner")
    assert both.empty


# -- through Dagster --------------------------------------------------------------------------------
def _write_source(env: Env, frame: pd.DataFrame) -> None:
    env.home.sources.mkdir(parents=True, exist_ok=True)
    frame.to_csv(env.home.sources / "patients.csv", index=False)


def test_poisoned_source_blocks_promotion_and_quarantine_lists_the_rows(env: Env) -> None:
    frame = patients.make_frame()
    frame[ID] = np.arange(len(frame))
    inj = inject(frame, attack="targeted_flip", rate=0.06, features=patients.SCHEMA.features, label="label",
                 id_column=ID, seed=3, source=0, target=1)
    _write_source(env, inj.frame.drop(columns=ID))

    result = env.run("patients")
    assert check_results(result)["poisoning_screen"] is False
    assert "trained_model" not in materialized(result) and "promotion" not in materialized(result)
    quarantine = env.store().latest("patients", "quarantine").data
    flagged = {row["id"] for row in quarantine["flagged"]}            # row positions in the source
    assert len(flagged & set(inj.poisoned_ids)) >= 0.75 * len(inj.poisoned_ids)
    assert quarantine["reference"]["sha256"] == patients.TRUSTED_SHA256
    table = pd.read_parquet(quarantine["table"]["path"])
    assert set(table["quarantine_row"]) == flagged and "clinical_note" in table.columns  # whole (redacted) rows kept

    solo = env.run("patients", ["promotion"])                        # cannot bypass the failed screen
    assert "poisoning_screen" in step_failures(solo)["promotion"]


def test_clean_source_with_rare_valid_rows_promotes(env: Env) -> None:
    frame = patients.make_frame()
    frame[ID] = np.arange(len(frame))
    planted, swans = plant_rare(frame, count=12, features=patients.SCHEMA.features, label="label",
                                id_column=ID, seed=4)
    _write_source(env, planted.drop(columns=ID))

    result = env.run("patients", PRE_PROMOTION)
    assert result.success, step_failures(result)
    assert check_results(result)["poisoning_screen"] and check_results(result)["backdoor_trigger"]
    approve(env, "patients")                                         # the release approval promotion requires
    assert env.run("patients", ["promotion"]).success
    assert env.tracker().alias_version("patients", "production") == "1"
    quarantine = env.store().latest("patients", "quarantine").data
    assert {row["id"] for row in quarantine["black_swans"]} & set(swans)
    screened = env.store().latest("patients", "screened_data").data
    trained = env.store().latest("patients", "trained_model").data
    assert trained["dataset"]["step"] == "screened_data"
    assert trained["dataset"]["sha256"] == screened["outputs"]["table"]["sha256"]


def test_tampered_trusted_slice_stops_the_screen(env: Env) -> None:
    env.home.sources.mkdir(parents=True, exist_ok=True)
    ref = env.home.sources / "patients.reference.csv"
    patients.write_trusted_slice(ref)
    ref.write_text(ref.read_text().replace(",0\n", ",1\n", 3))       # relabel three trusted rows
    result = env.run("patients", ["raw_data", "validated_data", "redacted_data", "screened_data"])
    assert "pins" in step_failures(result)["screened_data"]


def test_fuzz_cli_and_dagster_job(tmp_path: Path, env: Env) -> None:
    envvars = {"MLSECOPS_HOME": str(tmp_path / "cli"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
               "COLUMNS": "200"}
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "mlsecops", "fuzz", "--pipeline", "patients", "--attack",
                           "label_flip", "--rate", "0.05", "--out", str(out)], capture_output=True, text=True,
                          env=envvars, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert "label_flip" in done.stdout and "precision" in done.stdout
    report = json.loads((out / "fuzz.json").read_text())
    assert [r["attack"] for r in report["results"]] == ["clean", "label_flip"]
    assert (out / "fuzz.png").stat().st_size > 1000
    bad = subprocess.run([sys.executable, "-m", "mlsecops", "fuzz", "--attack", "nope"], capture_output=True,
                         text=True, env=envvars, cwd=Path(__file__).parents[1])
    assert bad.returncode == 1 and "unknown attack" in bad.stderr and "Traceback" not in bad.stderr

    job = env.defs.resolve_job_def("digits_fuzz")
    result = job.execute_in_process(instance=env.instance, run_config={"ops": {"digits_fuzz_harness": {"config": {
        "attacks": ["backdoor"], "rates": [0.05], "seed": 1}}}})
    assert result.success
    written = list((env.home.artifacts / "digits" / "fuzz").glob("*/fuzz.json"))
    rows = json.loads(written[0].read_text())["results"]
    backdoor = rows[1]
    assert backdoor["asr_unscreened"] > 0.8 and backdoor["asr_screened"] <= 0.1
