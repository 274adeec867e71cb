"""Held-out PII recall/precision: a generator the recognizers were NOT tuned on.

    python bench/pii_heldout.py [--n 1500] [--seed 29] [--json]

How it differs from the tuning set (`bench/pii_recall.py`): other record kinds (business cards,
chat messages, bios, multi-line form records, CSV-ish lines), other locales (names, phones and
addresses from nl_NL, pt_BR, pl_PL, sv_SE, en_AU, en_CA, es_MX, de_AT, fr_CH, it_IT, da_DK, pt_PT, and
cs_CZ / hu_HU / fi_FI / ro_RO whose name lists the detector does not load), lower-case chat, Faker's
own national phone formats, full postal addresses on several lines. Benign records (chat without PII,
product and company blurbs, order lines) count against precision only.

Scores go through the project's scanner API exactly as `mlsecops scan-pii --rows --json` does:
one free-text column, `scan_table`, then `PiiReport.row_spans`. A gold span is found when a span
of the same type overlaps it; a span is correct when it overlaps a gold span of its type.
Baseline: raw offline Presidio (`AnalyzerEngine`, default recognizers for every country, blank spaCy
pipeline, `PhoneRecognizer` over all phonenumbers regions), same score threshold.
Last line: `ratio: X` = our micro F1 / the baseline's micro F1 on this set.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faker import Faker  # noqa: E402

from bench.pii_recall import PresidioDefault, print_table, score, scan_rows  # noqa: E402
from mlsecops.controls.data.discretion.policy import PiiPolicy  # noqa: E402

LOCALES = ["nl_NL", "pt_BR", "pl_PL", "sv_SE", "en_AU", "en_CA", "es_MX", "de_AT", "fr_CH", "it_IT",
           "da_DK", "pt_PT"]
UNSEEN_NAME_LOCALES = ["cs_CZ", "hu_HU", "fi_FI", "ro_RO"]  # excluded from the detector's name lists

CARD = ["{NAME}\n{job}\n{company}\nT: {PHONE}\nE: {EMAIL}\n{ADDRESS}",
        "{NAME} | {job} | {company}\nmobile {PHONE} · {EMAIL}",
        "{company}\n{NAME}, {job}\n{ADDRESS}\ntel. {PHONE}"]
CHAT = ["hey it's {name_lower}, my number is {PHONE}", "can you send it to {EMAIL}? thx",
        "ok meet me at {ADDRESS_LINE} around 6", "{name_lower} says hi, she moved to {CITY}",
        "call {PHONE} if the door is locked", "lol {name_lower} forgot her card again",
        "new address: {ADDRESS_LINE}", "my iban is {IBAN_CODE} for the rent",
        "ask {NAME} from accounts, he's at {PHONE}"]
BIO = ["{NAME} is a {job} based in {CITY}. Reach {NAME_FIRST} at {EMAIL}.",
       "Born in {CITY}, {NAME} studied in {CITY2} before joining {company}.",
       "About the author: {NAME} lives in {COUNTRY} with two cats.",
       "{NAME} ({job}, {company}) has spoken in {CITY} and {CITY2}."]
RECORD = ["Name: {NAME}\nAddress: {ADDRESS}\nPhone: {PHONE}\nEmail: {EMAIL}",
          "full name: {name_lower}\ndob: {DOB}\nphone: {PHONE}",
          "Customer: {NAME}; card {CREDIT_CARD}; IP {IP_ADDRESS}",
          "{NAME};{EMAIL};{PHONE};{CITY}", "SSN {US_SSN} belongs to applicant {NAME}",
          "Beneficiary {NAME}\nIBAN {IBAN_CODE}\n{ADDRESS}"]
BENIGN = ["see you tomorrow at the office, bring the slides", "the meeting moved to 3pm, room B",
          "Order 48213 shipped; total 1,250.00 EUR due in 30 days.", "Version 3.2.1 released on 2024-05-02.",
          "{company} makes reliable pumps for the water industry.", "thanks!! that was a great talk",
          "Quarterly revenue grew 12 percent to 4.5 million.", "Ticket #20931 closed, no further action.",
          "Sprint review on Friday; demo the new Dashboard and the Export feature.",
          "Buy 2 get 1 free on all Summer Collection items until June 30."]
KINDS = {"card": (CARD, 2), "chat": (CHAT, 3), "bio": (BIO, 2), "record": (RECORD, 2), "benign": (BENIGN, 1.5)}
JOBS = ["Data Engineer", "Account Manager", "Architect", "Sales Director", "Nurse", "Consultant"]


class HeldOutGenerator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc in LOCALES + UNSEEN_NAME_LOCALES}
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed * 7 + i)
        self.row: dict[str, str] = {}

    def _f(self, names: bool = False) -> tuple[str, Faker]:
        pool = LOCALES + (UNSEEN_NAME_LOCALES if names else [])
        loc = self.rng.choice(pool)
        return loc, self.fakers[loc]

    def value(self, slot: str) -> tuple[str, str | None, str]:
        r = self.rng
        if slot in ("NAME", "name_lower", "NAME_FIRST"):
            if slot == "NAME_FIRST" and "first" in self.row:
                return self.row["first"], "PERSON", "first name again"
            loc, f = self._f(names=True)
            first, last = f.first_name(), f.last_name()
            self.row["first"] = first
            label = "unseen-locale name" if loc in UNSEEN_NAME_LOCALES else "name"
            name = f"{first} {last}"
            if slot == "name_lower":
                return name.lower(), "PERSON", f"lowercase {label}"
            return (name.upper() if r.random() < 0.15 else name), "PERSON", label
        if slot == "PHONE":
            loc, f = self._f()
            return f.phone_number(), "PHONE_NUMBER", f"phone {loc}"
        if slot == "EMAIL":
            return self._f()[1].email(), "EMAIL_ADDRESS", "email"
        if slot in ("ADDRESS", "ADDRESS_LINE"):
            loc, f = self._f()
            text = f.address()
            if slot == "ADDRESS_LINE":
                text = text.replace("\n", ", ").lower() if r.random() < 0.5 else text.replace("\n", ", ")
                return text, "LOCATION", "address one line"
            return text, "LOCATION", f"address {loc}"
        if slot in ("CITY", "CITY2"):
            loc, f = self._f()
            return f.city(), "LOCATION", "city"
        if slot == "COUNTRY":
            return Faker("en_US").country() if r.random() < 0 else r.choice(
                ["Portugal", "Brazil", "Poland", "Sweden", "Denmark", "Austria", "Switzerland", "Mexico",
                 "Canada", "Australia", "the Netherlands", "Italy"]), "LOCATION", "country"
        if slot == "IBAN_CODE":
            return self.fakers[r.choice(["nl_NL", "pl_PL", "de_AT", "it_IT", "pt_PT"])].iban(), "IBAN_CODE", "iban"
        if slot == "CREDIT_CARD":
            return self._f()[1].credit_card_number(), "CREDIT_CARD", "card"
        if slot == "IP_ADDRESS":
            f = self._f()[1]
            return (f.ipv4() if r.random() < 0.7 else f.ipv6()), "IP_ADDRESS", "ip"
        if slot == "US_SSN":
            return Faker("en_US").ssn(), "US_SSN", "ssn"
        if slot == "DOB":
            d = self._f()[1].date_of_birth(minimum_age=18, maximum_age=90)
            return r.choice([d.strftime("%d.%m.%Y"), d.isoformat(), d.strftime("%d/%m/%Y")]), "DATE_OF_BIRTH", "dob"
        if slot == "job":
            return r.choice(JOBS), None, ""
        if slot == "company":
            return self._f()[1].company(), None, ""
        raise KeyError(slot)

    def sample(self) -> tuple[str, list[tuple[int, int, str, str]], str]:
        kinds = list(KINDS)
        kind = self.rng.choices(kinds, weights=[KINDS[k][1] for k in kinds])[0]
        template = self.rng.choice(KINDS[kind][0])
        self.row = {}
        text, gold = "", []
        for i, part in enumerate(template.replace("}", "{").split("{")):
            if i % 2:
                value, entity, label = self.value(part)
                if entity:
                    gold.append((len(text), len(text) + len(value), entity, label))
                text += value
            else:
                text += part
        return text, gold, kind


def samples(n: int, seed: int) -> list[tuple[str, list[tuple[int, int, str, str]]]]:
    gen = HeldOutGenerator(seed)
    out = []
    for _ in range(n):
        text, gold, kind = gen.sample()
        out.append((text, [(s, e, ent, f"{label} [{kind}]" if ent != "PERSON" else label) for s, e, ent, label in gold]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show-fp", action="store_true")
    parser.add_argument("--show-fn", action="store_true")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    config = PiiPolicy()
    data = samples(args.n, args.seed)
    result = score(data, scan_rows([t for t, _ in data], config))
    out = {"set": "held-out", "sentences": args.n, "seed": args.seed, "ours": result}
    if not args.no_baseline:
        base = PresidioDefault(config.min_score, all_regions=True)
        out["baseline_presidio_raw"] = score(data, [base(t) for t, _ in data])
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        print_table("ours (scan_table, as scan-pii --rows --json)", result, args.show_fp, args.show_fn)
        if "baseline_presidio_raw" in out:
            print_table("baseline: raw Presidio, default recognizers, blank spaCy, all-regions phone",
                        out["baseline_presidio_raw"], False, False)
    base_f1 = out.get("baseline_presidio_raw", {}).get("micro", {}).get("f1")
    print(f"ratio: {result['micro']['f1'] / base_f1:.2f}" if base_f1 else "ratio: n/a")


if __name__ == "__main__":
    main()
