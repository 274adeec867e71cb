"""Recall and precision of the offline PII scanner per entity type, on a labeled synthetic set.

    python bench/pii_recall.py [--n 1500] [--seed 11] [--json]

The sentences come from templates written for this evaluation (none of the `patients` source's
note templates), and the identities from a *different source* than the detector's lists: person
names from Faker's locale lists (the detector uses US Census tables), cities from Faker's address
providers (the detector uses GeoNames). Names that the census lists do not hold are reported as their
own slice, so the number is not inflated by testing the list against itself.

A gold span counts as found when a finding of the same type overlaps it; a finding counts as
correct when it overlaps a gold span of its type. Negative sentences (clinical text with eponyms,
drug names, doses, visit dates) carry no PII and count against precision only.
This is the *tuning* set: the recognizers were adjusted against it. The independent held-out set,
built by another generator, is `bench/pii_heldout.py`; report both.
Our findings go through `scan_table` + `row_spans`, the path of `mlsecops scan-pii --rows --json`.
Baseline, named for what it is: raw offline Presidio, `AnalyzerEngine` with every predefined recognizer
(all countries), a blank spaCy pipeline (no English model can be installed here, so its PERSON/LOCATION
find nothing) and `PhoneRecognizer` over every phonenumbers region, same score threshold; its DATE_TIME
counts as DATE_OF_BIRTH, labels outside the evaluated set are listed apart.
Last line: `ratio: X` = our micro F1 / the baseline's micro F1 (higher is better).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # the raw baseline must not go online
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faker import Faker  # noqa: E402

from mlsecops.controls.data.discretion._gazetteer import load_gazetteer  # noqa: E402
from mlsecops.controls.data.discretion.pii import Finding, analyze_text  # noqa: E402
from mlsecops.controls.data.discretion.policy import PiiPolicy  # noqa: E402

NAME_LOCALES = {"en_US": 0.6, "en_GB": 0.15, "en_IE": 0.1, "en_IN": 0.1, "es_ES": 0.05}

POSITIVE = [
    "Referral letter for {PERSON}, born {DOB}, residing at {ADDRESS}.",
    "{PERSON} can be reached on {PHONE} or by email at {EMAIL}.",
    "Billing: card {CREDIT_CARD} on file for {PERSON}.",
    "Refund wired to IBAN {IBAN_CODE}; account holder {PERSON}.",
    "Portal login from {IP_ADDRESS} by user {EMAIL}.",
    "Emergency contact: {PERSON} ({relation}), phone {PHONE}.",
    "Transferred from {CITY} to our facility in {STATE} on {visit}.",
    "Social Security number {US_SSN} was provided at intake.",
    "Mailing address on file: {ADDRESS}",
    "The patient traveled to {COUNTRY} last month and returned on {visit}.",
    "Consent signed by {PERSON} and witnessed by {PERSON2}.",
    "Seen today with her daughter {PERSON}; questions about tamoxifen answered.",
    "Date of birth: {DOB}. Preferred phone: {PHONE}.",
    "Records requested by {PERSON} at {EMAIL} on {visit}.",
    "{PERSON} moved to {CITY} and asks that letters go to {ADDRESS}.",
    "Insurance subscriber {PERSON}, SSN {US_SSN}, DOB {DOB}.",
    "Payment declined for card ending {CREDIT_CARD}; call {PHONE} to update.",
    "Remote session from {IP_ADDRESS}; patient {PERSON} confirmed identity.",
    "Dr. {LAST} reviewed the ultrasound with {PERSON} on {visit}.",
    "Name: {PERSON_LASTFIRST}",
    "Lives with her husband in {CITY}, {STATE}.",
    "Left a voicemail for {PERSON} at {PHONE} regarding the MRI.",
    "Overseas contact {PERSON}, tel {INTL_PHONE}.",
    "Forward the results to {INTL_ADDRESS}.",
    "{PERSON} (mobile {INTL_PHONE}) lives at {INTL_ADDRESS}.",
    "Invoice from {COMPANY} approved by {PERSON}, {JOB}.",
    "{PERSON}\n{TITLE}\n{COMPANY}\nPhone {INTL_PHONE}",
]

NEGATIVE = [
    "Mammogram shows a 1.2 x 0.8 cm mass at 10 o'clock, BI-RADS 4; biopsy scheduled for {visit}.",
    "ER positive, PR positive, HER2 negative; Ki-67 20 percent.",
    "Started Tamoxifen 20 mg daily; follow up in Oncology Clinic in 3 months.",
    "History of Hodgkin lymphoma treated with ABVD in 2009; no recurrence.",
    "Paget disease of the nipple was considered and ruled out.",
    "Discussed Cooper ligament distortion seen on Tomosynthesis.",
    "Follow-up Monday at the Breast Center; bring prior films from March.",
    "Labs on {visit}: WBC 6.1, Hgb 12.8, platelets 245.",
    "Grade 2 invasive ductal carcinoma, margins negative by 3 mm.",
    "Patient denies fever, chills, or weight loss. Appetite good.",
    "Sentinel lymph node biopsy: 0 of 3 nodes positive.",
    "Reviewed the NCCN guideline and the Oncotype DX recurrence score of 18.",
    "Radiation Oncology consult requested; 15 fractions planned.",
    "Tylenol 500 mg as needed for pain; Zofran for nausea.",
    "Order 4512 shipped; invoice total 1,250.00 due in 30 days.",
    "Version 2.4.1 of the reporting tool was installed on {visit}.",
    "Supplies ordered from {COMPANY}; the {JOB} signs off on {visit}.",
    "The {JOB} position at {COMPANY} is open.",
]

RELATIONS = ["daughter", "son", "spouse", "sister", "brother", "partner", "mother", "father"]


def _phone(rng: random.Random) -> str:
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    return rng.choice([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}", f"+1 {a} {b} {c:04d}",
                       f"1-{a}-{b}-{c:04d}", f"{a}-{b}-{c:04d} ext. {rng.randint(1, 999)}"])


def _date(rng: random.Random, fake: Faker) -> str:
    d = fake.date_of_birth(minimum_age=18, maximum_age=95)
    return rng.choice([d.isoformat(), d.strftime("%m/%d/%Y"), d.strftime("%B %d, %Y"), d.strftime("%d %B %Y")])


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc in NAME_LOCALES}
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed + i)
        self.us = self.fakers["en_US"]
        self.iban = [Faker("en_GB"), Faker("de_DE"), Faker("fr_FR"), Faker("nl_NL")]
        for i, f in enumerate(self.iban):
            f.seed_instance(seed + 100 + i)
        self.intl = [Faker(loc) for loc in ("en_GB", "de_DE", "fr_FR", "es_ES", "en_IE", "en_IN")]
        for i, f in enumerate(self.intl):
            f.seed_instance(seed + 300 + i)
        self.real_cities = Faker("de_DE")  # real German towns: a list the detector does not use
        self.real_cities.seed_instance(seed + 200)

    def person(self) -> tuple[str, str, str]:
        loc = self.rng.choices(list(NAME_LOCALES), weights=list(NAME_LOCALES.values()))[0]
        f = self.fakers[loc]
        first, last = f.first_name(), f.last_name()
        return f"{first} {last}", loc, last

    def value(self, slot: str) -> tuple[str, str | None, str]:
        """(text, entity or None, slice label)."""
        r, us = self.rng, self.us
        if slot in ("PERSON", "PERSON2"):
            name, loc, _ = self.person()
            return name, "PERSON", loc
        if slot == "PERSON_LASTFIRST":
            first, last = self.us.first_name(), self.us.last_name()
            return f"{last}, {first}", "PERSON", "last, first"
        if slot == "LAST":
            _, loc, last = self.person()
            return last, "PERSON", "title + surname"
        if slot == "EMAIL":
            return r.choice([us.email(), us.free_email(), us.company_email()]), "EMAIL_ADDRESS", "email"
        if slot == "PHONE":
            return _phone(r), "PHONE_NUMBER", "phone"
        if slot == "US_SSN":
            return us.ssn(), "US_SSN", "ssn"
        if slot == "CREDIT_CARD":
            return us.credit_card_number(), "CREDIT_CARD", "card"
        if slot == "IBAN_CODE":
            return r.choice(self.iban).iban(), "IBAN_CODE", "iban"
        if slot == "IP_ADDRESS":
            return (us.ipv4() if r.random() < 0.8 else us.ipv6()), "IP_ADDRESS", "ip"
        if slot == "DOB":
            return _date(r, us), "DATE_OF_BIRTH", "dob"
        if slot == "ADDRESS":
            if r.random() < 0.5:
                return us.address().replace("\n", ", "), "LOCATION", "full US address"
            return f"{us.street_address()}, {us.city()}", "LOCATION", "street, city"
        if slot == "INTL_PHONE":
            f = r.choice(self.intl)
            return f.phone_number(), "PHONE_NUMBER", "international phone"
        if slot == "INTL_ADDRESS":
            f = r.choice(self.intl)
            return f.address().replace("\n", ", "), "LOCATION", "international address"
        if slot == "CITY":
            if r.random() < 0.5:
                return self.real_cities.city(), "LOCATION", "real city (de_DE list)"
            return us.city(), "LOCATION", "synthetic US city"
        if slot == "STATE":
            return us.state(), "LOCATION", "US state"
        if slot == "COUNTRY":
            return us.country(), "LOCATION", "country"
        if slot == "COMPANY":
            return r.choice(self.intl).company(), None, ""
        if slot == "TITLE":
            return us.job().split(",")[0].title(), None, ""
        if slot == "JOB":
            return us.job(), None, ""
        if slot == "relation":
            return r.choice(RELATIONS), None, ""
        if slot == "visit":
            return us.date_between("-2y", "today").strftime(r.choice(["%Y-%m-%d", "%m/%d/%Y", "%B %d"])), None, ""
        raise KeyError(slot)

    def sentence(self, template: str) -> tuple[str, list[tuple[int, int, str, str]]]:
        text, gold, pos = "", [], 0
        for part in template.replace("}", "{").split("{"):
            if pos % 2:
                value, entity, label = self.value(part)
                if entity:
                    gold.append((len(text), len(text) + len(value), entity, label))
                text += value
            else:
                text += part
            pos += 1
        return text, gold


class PresidioDefault:
    """The raw library: default recognizers (all countries) over a blank spaCy pipeline."""

    def __init__(self, threshold: float, all_regions: bool = True) -> None:
        import phonenumbers
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer

        from mlsecops.controls.data.discretion._recognizers import BlankSpacyNlpEngine

        engine = BlankSpacyNlpEngine()
        engine.load()
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
        if all_regions:  # the library's phone recognizer over every region phonenumbers knows
            registry.recognizers = [r for r in registry.recognizers if not isinstance(r, PhoneRecognizer)]
            registry.add_recognizer(PhoneRecognizer(supported_regions=sorted(phonenumbers.SUPPORTED_REGIONS)))
        self.analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
        self.threshold = threshold
        self.other: dict[str, int] = defaultdict(int)

    def __call__(self, text: str) -> list[Finding]:
        out = []
        for r in self.analyzer.analyze(text, language="en", score_threshold=self.threshold):
            entity = "DATE_OF_BIRTH" if r.entity_type == "DATE_TIME" else r.entity_type
            if entity in EVALUATED:
                out.append(Finding(entity, r.start, r.end, r.score))
            else:
                self.other[entity] += 1
        return out


PATTERN_ENTITIES = ("EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "PHONE_NUMBER")
EVALUATED = {"PERSON", "LOCATION", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "IBAN_CODE",
             "IP_ADDRESS", "DATE_OF_BIRTH"}


def scan_rows(texts: list[str], config: PiiPolicy) -> list[list[Finding]]:
    """Findings per text through the scanner API `mlsecops scan-pii --rows --json` uses."""
    import pandas as pd

    from mlsecops.controls.data.discretion.pii import scan_table

    frame = pd.DataFrame({"text": texts})
    report = scan_table(frame, config, free_text_columns=("text",))
    out: list[list[Finding]] = [[] for _ in texts]
    for row in report.row_spans(frame):
        out[row["row"]].append(Finding(row["entity"], row["start"], row["end"], row["score"]))
    return out


def score(data: list[tuple[str, list[tuple[int, int, str, str]]]], found_all: list[list[Finding]]) -> dict:
    """Per-entity recall/precision, recall per slice, and false-positive / missed examples."""
    gaz = load_gazetteer()
    tp, fn, fp = defaultdict(int), defaultdict(int), defaultdict(int)
    slices = defaultdict(lambda: [0, 0])  # label -> [found, total]
    oov = [0, 0]
    fp_examples: dict[str, list[str]] = defaultdict(list)
    fn_examples: dict[str, list[str]] = defaultdict(list)
    for (text, gold), found in zip(data, found_all):
        for s, e, entity, label in gold:
            hit = any(f.entity == entity and f.start < e and s < f.end for f in found)
            (tp if hit else fn)[entity] += 1
            slices[f"{entity}: {label}"][0] += hit
            slices[f"{entity}: {label}"][1] += 1
            if not hit and len(fn_examples[entity]) < 12:
                fn_examples[entity].append(text[s:e])
            if entity == "PERSON":
                tokens = text[s:e].replace(",", "").upper().split()
                if not all(t in gaz.first_names or t in gaz.last_names for t in tokens):
                    oov[0] += hit
                    oov[1] += 1
        for f in found:
            if not any(f.entity == entity and f.start < e and s < f.end for s, e, entity, _ in gold):
                fp[f.entity] += 1
                if len(fp_examples[f.entity]) < 8:
                    fp_examples[f.entity].append(text[f.start:f.end])
    table = {}
    for entity in sorted(set(tp) | set(fn) | set(fp)):
        t, m, p = tp[entity], fn[entity], fp[entity]
        table[entity] = {"gold": t + m, "found": t, "false_positives": p,
                         "recall": round(t / (t + m), 3) if t + m else None,
                         "precision": round(t / (t + p), 3) if t + p else None}
    pattern = [e for e in PATTERN_ENTITIES if e in table]
    pt, pm = sum(tp[e] for e in pattern), sum(fn[e] for e in pattern)
    T, M, P = sum(tp.values()), sum(fn.values()), sum(fp.values())
    recall, precision = T / (T + M), (T / (T + P) if T + P else 0.0)
    return {"entities": table,
            "pattern_entities_recall": round(pt / (pt + pm), 3) if pt + pm else None,
            "micro": {"recall": round(recall, 3), "precision": round(precision, 3),
                      "f1": round(2 * recall * precision / (recall + precision), 3) if recall + precision else 0.0},
            "slices": {k: {"recall": round(a / b, 3), "n": b} for k, (a, b) in sorted(slices.items())},
            "person_names_not_in_census_lists": {"recall": round(oov[0] / oov[1], 3) if oov[1] else None, "n": oov[1]},
            "_fp_examples": dict(fp_examples), "_fn_examples": dict(fn_examples)}


def evaluate(n: int, seed: int, config: PiiPolicy, scanner=None) -> dict:  # noqa: ANN001
    """Score `n` tuning-set sentences with `scanner` (default: the project's scan_table path)."""
    gen = Generator(seed)
    templates = POSITIVE * 3 + NEGATIVE
    data = [gen.sentence(gen.rng.choice(templates)) for _ in range(n)]
    start = time.perf_counter()
    found = scan_rows([t for t, _ in data], config) if scanner is None else [scanner(t) for t, _ in data]
    result = score(data, found)
    return {"sentences": n, "seed": seed, "seconds": round(time.perf_counter() - start, 2), **result}


def print_table(title: str, result: dict, show_fp: bool = False, show_fn: bool = False) -> None:
    print(title)
    print(f"  {'entity':<16}{'gold':>6}{'found':>7}{'FP':>5}{'recall':>8}{'precision':>11}")
    for entity, row in result["entities"].items():
        rec = "-" if row["recall"] is None else f"{row['recall']:.3f}"
        pre = "-" if row["precision"] is None else f"{row['precision']:.3f}"
        print(f"  {entity:<16}{row['gold']:>6}{row['found']:>7}{row['false_positives']:>5}{rec:>8}{pre:>11}")
    print("  slices (recall):")
    for name, row in result["slices"].items():
        print(f"    {name:<44}{row['recall']:.3f}  (n={row['n']})")
    o = result["person_names_not_in_census_lists"]
    print(f"    PERSON names not in the gazetteer lists       {o['recall']}  (n={o['n']})")
    m = result["micro"]
    print(f"  pattern entities recall {result['pattern_entities_recall']}; "
          f"micro recall {m['recall']:.3f}, precision {m['precision']:.3f}, F1 {m['f1']:.3f}")
    if show_fp:
        print("  false positives:", result["_fp_examples"])
    if show_fn:
        print("  missed:", result["_fn_examples"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show-fp", action="store_true", help="print false-positive texts (synthetic data)")
    parser.add_argument("--show-fn", action="store_true", help="print missed texts (synthetic data)")
    args = parser.parse_args()
    config = PiiPolicy()
    result = evaluate(args.n, args.seed, config)
    baseline_scanner = PresidioDefault(config.min_score, all_regions=True)
    baseline = evaluate(args.n, args.seed, config, baseline_scanner)
    result["baseline_presidio_raw"] = {k: baseline[k] for k in ("entities", "micro", "pattern_entities_recall")}
    result["baseline_presidio_raw"]["labels_outside_the_set"] = dict(baseline_scanner.other)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}, indent=2))
    else:
        print(f"{args.n} sentences (tuning set), seed {args.seed}, {result['seconds']} s")
        print_table("ours (scan_table, as scan-pii --rows --json)", result, args.show_fp, args.show_fn)
        print_table("baseline: raw Presidio, default recognizers, blank spaCy, all-regions phone", baseline)
        print(f"  other labels it emitted: {dict(baseline_scanner.other)}")
    base_f1 = result["baseline_presidio_raw"]["micro"]["f1"]
    print(f"ratio: {result['micro']['f1'] / base_f1:.2f}" if base_f1 else "ratio: inf")


if __name__ == "__main__":
    main()
