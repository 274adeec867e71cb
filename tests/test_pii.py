"""Discretion control: offline PII scan, redaction, pseudonymization and the gates over its evidence."""

from __future__ import annotations

import socket
import stat

import numpy as np
import pandas as pd
import pytest

from mlsecops.controls.data.discretion.pii import (analyze_text, build_evidence, evaluate_identity_features,
                                   evaluate_no_unredacted_pii, evaluate_unexpected_pii, pseudonym_key,
                                   redact_table, scan_table)
from mlsecops.core.errors import PiiError
from mlsecops.core.fileio import canonical_json
from mlsecops.pipelines.patients import IDENTITY, make_frame
from mlsecops.controls.data.discretion.policy import PiiPolicy

CONFIG = PiiPolicy()
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return make_frame()


@pytest.fixture(scope="module")
def scanned(patients):
    return scan_table(patients, CONFIG, identity_columns=IDENTITY, free_text_columns=("clinical_note",))


def _entities(text: str, config: PiiPolicy = CONFIG) -> set[tuple[str, str]]:
    return {(f.entity, text[f.start:f.end]) for f in analyze_text(text, config)}


def _raw_values(frame: pd.DataFrame) -> set[str]:
    return {str(v) for c in IDENTITY for v in frame[c].dropna()}


def test_us_locale_tags_a_us_phone_as_phone_not_uk_nhs():
    found = _entities("Call 212-555-0199 tomorrow.")
    assert found == {("PHONE_NUMBER", "212-555-0199")}
    assert not any(e == "UK_NHS" for e, _ in _entities("NHS 212 555 0199"))


def test_person_and_location_are_found_without_any_model():
    text = "Referral for Maria Garcia, who moved from Chicago; mail to 1234 Elm Street Apt. 5, Springfield, IL 62704."
    found = _entities(text)
    assert ("PERSON", "Maria Garcia") in found
    assert ("LOCATION", "Chicago") in found
    assert ("LOCATION", "1234 Elm Street Apt. 5, Springfield, IL 62704") in found


def test_clinical_words_and_visit_dates_are_not_pii():
    text = ("Mass in left breast stable; BI-RADS 4. Started Tamoxifen 20 mg daily. "
            "Follow up Monday at the Breast Center. Visit on 2024-01-02. Hodgkin lymphoma in 2009.")
    assert _entities(text) == set()
    assert _entities("DOB 1975-03-14") == {("DATE_OF_BIRTH", "1975-03-14")}


def test_scanning_never_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from mlsecops.controls.data.discretion._recognizers import OfflineEmailRecognizer

    assert OfflineEmailRecognizer().validate_result("someone@mail.example.co.uk")
    assert _entities("write to someone@mail.example.co.uk") == {("EMAIL_ADDRESS", "someone@mail.example.co.uk")}


def test_columns_are_classified_and_evidence_shows_shapes_only(patients, scanned):
    classified = {c: r.classified for c, r in scanned.columns.items()}
    assert classified["name"] == ("PERSON",)
    assert classified["email"] == ("EMAIL_ADDRESS",)
    assert classified["phone"] == ("PHONE_NUMBER",)
    assert classified["ssn"] == ("US_SSN",)
    assert "LOCATION" in classified["address"]
    assert classified["date_of_birth"] == ("DATE_OF_BIRTH",)
    assert classified["recorded_at"] == ()
    assert {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "DATE_OF_BIRTH"} <= set(classified["clinical_note"])
    assert scanned.columns["mean_radius"].kind == "non_text" and scanned.columns["label"].kind == "non_text"
    assert scanned.columns["clinical_note"].kind == "free_text"
    assert scanned.columns["clinical_note"].scanned == patients["clinical_note"].nunique()
    assert scanned.columns["ssn"].entities["US_SSN"].examples == ["###-##-####"]
    assert scanned.unexpected_columns() == []
    evidence = canonical_json(scanned.to_evidence()).decode()
    leaked = [v for v in _raw_values(patients) if v in evidence]
    assert leaked == []


def test_redaction_leaves_no_raw_value_and_the_rescan_passes(patients, scanned):
    clean, redaction = redact_table(patients, scanned, CONFIG, KEY)
    assert not set(IDENTITY) & set(clean.columns)
    assert set(redaction.dropped) == set(IDENTITY)
    assert clean["mean_radius"].equals(patients["mean_radius"])  # features untouched
    cells = "\n".join(clean.select_dtypes(exclude="number").astype(str).to_numpy().ravel())
    assert [v for v in _raw_values(patients) if v in cells] == []
    # every name, email, phone and SSN that a note embedded is gone from the notes
    for column in ("name", "email", "phone", "ssn"):
        assert not any(v in cells for v in patients[column])
    rescan = scan_table(clean, CONFIG)
    evidence = build_evidence(scanned, redaction, rescan, CONFIG)
    outcome = evaluate_no_unredacted_pii(evidence, CONFIG)
    assert outcome.passed and outcome.value == 0, outcome.detail
    features = [c for c in clean.columns if c not in ("clinical_note", "recorded_at", "label")]
    assert evaluate_identity_features(evidence, features, CONFIG).passed
    assert not evaluate_identity_features(evidence, features + ["email"], CONFIG).passed


def test_gate_fails_when_the_policy_blocks_an_entity(patients, scanned):
    config = CONFIG.model_copy(update={"actions": {**CONFIG.actions, "EMAIL_ADDRESS": "block"}})
    clean, redaction = redact_table(patients, scanned, config, KEY)
    assert redaction.columns["clinical_note"]["blocked"] == ["EMAIL_ADDRESS"]
    evidence = build_evidence(scanned, redaction, scan_table(clean, config), config)
    outcome = evaluate_no_unredacted_pii(evidence, config)
    assert not outcome.passed
    assert outcome.value == int((patients["clinical_note"].str.contains("@")).sum())
    assert "EMAIL_ADDRESS" in outcome.detail and "@" not in outcome.detail


def test_pii_hidden_in_unexpected_columns_is_caught_and_blocks(patients):
    frame = patients.head(200).copy()
    rng = np.random.default_rng(1)
    frame["comments"] = ["see chart" if i % 3 else f"reply to {e} please" for i, e in enumerate(frame["email"])]
    frame["member_ref"] = frame["ssn"].astype(str)                       # numeric-looking strings
    frame["score_text"] = rng.normal(size=len(frame)).astype(str)       # numbers stored as text: not PII
    report = scan_table(frame, CONFIG, identity_columns=IDENTITY, free_text_columns=("clinical_note",))
    assert report.columns["comments"].classified == ("EMAIL_ADDRESS",)
    assert report.columns["member_ref"].classified == ("US_SSN",)
    assert report.columns["score_text"].classified == ()
    assert set(report.unexpected_columns()) == {"comments", "member_ref"}
    clean, redaction = redact_table(frame, report, CONFIG, KEY)
    assert "member_ref" in redaction.dropped                             # SSN action: drop
    evidence = build_evidence(report, redaction, scan_table(clean, CONFIG), CONFIG)
    assert evaluate_no_unredacted_pii(evidence, CONFIG).passed           # redacted either way ...
    blocked = evaluate_unexpected_pii(evidence, CONFIG)
    assert not blocked.passed and blocked.value == 2                     # ... but the policy says block
    lenient = CONFIG.model_copy(update={"unexpected_pii": "redact"})
    assert evaluate_unexpected_pii(evidence, lenient).passed


def test_pseudonyms_are_keyed_stable_and_join(tmp_path, patients):
    key = pseudonym_key(tmp_path / "keys")
    path = tmp_path / "keys" / "pii-hmac.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and pseudonym_key(tmp_path / "keys") == key
    frame = patients[["name", "email", "mean_radius"]].head(50)
    frame = pd.concat([frame, frame.head(5)], ignore_index=True)       # repeated people
    config = CONFIG.model_copy(update={"identity_action": "pseudonymize"})
    report = scan_table(frame, config, identity_columns=("name", "email"))
    a, redaction = redact_table(frame, report, config, key)
    b, _ = redact_table(frame, report, config, key)
    c, _ = redact_table(frame, report, config, bytes(32))
    assert a["email"].equals(b["email"]) and not a["email"].equals(c["email"])
    assert a["email"].iloc[-1] == a["email"].iloc[4] and a["email"].iloc[0].startswith("EMAIL_ADDRESS_")
    assert a["email"].nunique() == frame["email"].nunique()
    assert key.hex() not in canonical_json(redaction.to_evidence()).decode()
    path.chmod(0o644)
    with pytest.raises(PiiError, match="readable by other users"):
        pseudonym_key(tmp_path / "keys")


def test_awkward_cells_are_handled(patients):
    email = "hidden.person@example.org"
    huge = "x " * 49_990 + email + " y" * 100_000              # the email straddles a chunk boundary
    frame = pd.DataFrame({
        "mixed": [None, np.nan, 12345, b"ssn 219-09-9999", {"k": "v"}, "", "  ", huge],
        "all_null": [None] * 8,
        "ints": list(range(8)),
        "flags": [True, False] * 4,
        "when": pd.to_datetime(["1970-01-0%d" % (i + 1) for i in range(8)]),
    })
    structured = scan_table(frame, CONFIG)
    assert structured.columns["mixed"].kind == "structured"          # few words per value: whole-column action
    assert "mixed" in redact_table(frame, structured, CONFIG, KEY)[1].dropped   # SSN outranks EMAIL: drop
    report = scan_table(frame, CONFIG, free_text_columns=("mixed",))
    mixed = report.columns["mixed"]
    assert mixed.kind == "free_text" and set(mixed.classified) == {"EMAIL_ADDRESS", "US_SSN"}
    assert mixed.non_null == 6
    spans = [f for f in mixed.spans[huge]]
    assert [(f.entity, huge[f.start:f.end]) for f in spans] == [("EMAIL_ADDRESS", email)]
    assert report.columns["all_null"].kind == "empty"
    assert report.columns["ints"].kind == "non_text" and report.columns["flags"].kind == "non_text"
    assert report.columns["when"].classified == ()               # dates without birth context
    clean, _ = redact_table(frame, report, CONFIG, KEY)
    assert email not in clean["mixed"].iloc[7] and len(clean["mixed"].iloc[7]) > 100_000
    assert clean["mixed"].iloc[3] == "ssn " and clean["mixed"].iloc[2] == 12345
    with pytest.raises(PiiError, match="column name"):
        scan_table(pd.DataFrame({0: ["a"]}), CONFIG)


def test_a_missing_spacy_model_is_a_clear_error_not_a_download(monkeypatch):
    import spacy.cli

    monkeypatch.setattr(spacy.cli, "download", lambda *a, **k: pytest.fail("tried to download a model"))
    config = CONFIG.model_copy(update={"nlp_engine": "spacy", "spacy_model": "en_core_web_missing"})
    with pytest.raises(PiiError, match="en_core_web_missing.*not installed"):
        analyze_text("Maria Garcia", config)


def test_scan_pii_command_prints_shapes_and_row_spans(tmp_path, patients):
    import json

    from typer.testing import CliRunner

    from mlsecops.cli import app

    path = tmp_path / "people.parquet"
    patients.head(40).to_parquet(path)
    runner = CliRunner()
    done = runner.invoke(app, ["scan-pii", str(path), "--json", "--rows"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    assert set(doc["pii_columns"]) == set(IDENTITY) | {"clinical_note"}
    assert doc["rows"] and {"row", "column", "entity", "start", "end", "score"} == set(doc["rows"][0])
    assert [v for v in _raw_values(patients.head(40)) if v in done.output] == []
    shown = runner.invoke(app, ["scan-pii", str(path)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "###-##-####" in shown.output and "US_SSN" in shown.output
    missing = runner.invoke(app, ["scan-pii", str(tmp_path / "none.csv")])
    assert missing.exit_code != 0 and "not found" in str(missing.exception)


def test_a_configured_spacy_pipeline_replaces_the_builtin_engine(tmp_path):
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": [{"LOWER": "zorblax"}, {"LOWER": "quenton"}]},
                        {"label": "GPE", "pattern": "Vrellis"}])
    nlp.to_disk(tmp_path / "my_ner")
    config = CONFIG.model_copy(update={"nlp_engine": "spacy", "spacy_model": str(tmp_path / "my_ner"),
                                       "gazetteers": False})
    found = _entities("Seen with zorblax quenton from Vrellis; John Smith called.", config)
    assert ("PERSON", "zorblax quenton") in found and ("LOCATION", "Vrellis") in found
    assert ("PERSON", "John Smith") not in found            # the census lists are off: the model decides
    assert ("PERSON", "John Smith") in _entities("John Smith called.", CONFIG)
