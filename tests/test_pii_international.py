"""Discretion beyond US formats: international phones, non-US addresses, multi-locale and lower-case
names are found; benign text is not flagged (the builtin engine, no model)."""

from __future__ import annotations

import pandas as pd

from mlsecops.controls.data.discretion.pii import analyze_text, scan_table
from mlsecops.controls.data.discretion.policy import PiiPolicy

CONFIG = PiiPolicy()


def _found(text: str) -> set[tuple[str, str]]:
    return {(f.entity, text[f.start:f.end]) for f in analyze_text(text, CONFIG)}


def test_international_phone_numbers_are_found():
    text = "tel +44 20 7946 0958, mobile 06 12 34 56 78 or +49 (0) 30 901820"
    found = _found(text)
    assert ("PHONE_NUMBER", "+44 20 7946 0958") in found
    assert ("PHONE_NUMBER", "06 12 34 56 78") in found
    assert any(e == "PHONE_NUMBER" and v.startswith("+49") for e, v in found)


def test_lowercase_multi_locale_name_and_particles_are_found():
    assert ("PERSON", "jan kowalski") in _found("hey it's jan kowalski, call me later")
    assert ("PERSON", "Jan van der Veen") in _found("Jan van der Veen signed the form.")


def test_non_us_addresses_are_found():
    found = _found("Hauptstr. 5\n12345 Berlin")
    assert ("LOCATION", "Hauptstr. 5") in found and ("LOCATION", "12345 Berlin") in found
    assert ("LOCATION", "48, rue Lucie Brun") in _found("48, rue Lucie Brun\n85786 Gaudin-sur-Mer")
    assert ("LOCATION", "ul. Zachodnia 318") in _found("ul. Zachodnia 318, 72-984 Jaworzno")


def test_benign_text_and_firms_and_job_titles_are_not_flagged():
    for text in ("see you tomorrow at the office, bring the slides",
                 "Order 48213 shipped; total 1,250.00 EUR due in 30 days.",
                 "Version 3.2.1 released on 2024-05-02.", "Ticket #20931 closed, no further action.",
                 "The Research Officer joined Coyne Group in 2019."):
        assert _found(text) == set(), text
    assert {e for e, _ in _found("born May 3, 1957, residing at home")} == {"DATE_OF_BIRTH"}  # a year, no town


def test_a_day_first_birth_date_is_a_date_of_birth():
    assert _found("dob: 14.03.1975") == {("DATE_OF_BIRTH", "14.03.1975")}


def test_the_scan_pii_path_reports_international_spans():
    frame = pd.DataFrame({"note": ["Beneficiary Ingrid Ström\nStorgatan 12\n11455 Stockholm\ntel. 08-123 456 78",
                                   "thanks!! that was a great talk"]})
    report = scan_table(frame, CONFIG, free_text_columns=("note",))
    rows = list(report.row_spans(frame))
    assert {r["entity"] for r in rows if r["row"] == 0} >= {"PERSON", "LOCATION", "PHONE_NUMBER"}
    assert not [r for r in rows if r["row"] == 1]
