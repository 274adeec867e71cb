"""Throughput of `scan_table` against Presidio's `BatchAnalyzerEngine` on a 100k-row mixed frame.

    python bench/pii_throughput.py [--rows 100000]

The frame: an id, six numeric columns, a low-cardinality category, name, email, phone and a free-text
note (half boilerplate, half embedding an identity). Our scanner skips numeric columns, classifies
structured columns from a sample of distinct values, and scans every distinct note. Every row is a
distinct identity (`--rows` distinct names, emails and phones). The baseline is Presidio's
`BatchAnalyzerEngine.analyze_dataframe`-style call (`analyze_iterator` per column, the same recognizers)
with the same numeric-column skip and value dedup (each distinct text value analyzed once); both are
timed on the whole frame, nothing extrapolated.
Last line: `ratio: X` = baseline seconds / our seconds.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # the raw baseline must not go online
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from faker import Faker  # noqa: E402

from mlsecops.controls.data.discretion.pii import _analyzer, analyze_text, scan_table  # noqa: E402
from mlsecops.controls.data.discretion.policy import PiiPolicy  # noqa: E402

BOILERPLATE = ["Screening mammogram unremarkable.", "No palpable mass on exam.", "Return in 12 months.",
               "Density category B.", "Discussed lifestyle factors.", "Tolerating therapy well.",
               "Imaging reviewed with radiology.", "No new complaints today."]
WITH_PII = ["Spoke with {name} about results; callback {phone}.", "Copy of report emailed to {email}.",
            "{name} requests records be sent to {email}.", "Caregiver {name} reachable at {phone}."]


def make_frame(rows: int, seed: int = 5) -> pd.DataFrame:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    people = [{"name": fake.unique.name(), "email": f"{i}.{fake.user_name()}@{fake.free_email_domain()}",
               "phone": fake.numerify("(###) ###-####")} for i in range(rows)]   # distinct identities
    np_rng = np.random.default_rng(seed)
    notes = []
    for person in people:
        if rng.random() < 0.5:
            notes.append(" ".join(rng.sample(BOILERPLATE, rng.randint(1, 3))))
        else:
            notes.append(rng.choice(WITH_PII).format(**person) + " " + rng.choice(BOILERPLATE))
    frame = pd.DataFrame({"id": np.arange(rows)})
    for i in range(6):
        frame[f"x{i}"] = np_rng.normal(size=rows)
    frame["category"] = np_rng.choice(["screening", "diagnostic", "follow-up"], rows)
    frame["name"] = [p["name"] for p in people]
    frame["email"] = [p["email"] for p in people]
    frame["phone"] = [p["phone"] for p in people]
    frame["note"] = notes
    return frame


def batch_baseline(frame: pd.DataFrame, config: PiiPolicy) -> tuple[float, dict[str, set[str]]]:
    """Presidio's BatchAnalyzerEngine on the text columns, each distinct value once (same recognizers)."""
    from presidio_analyzer import BatchAnalyzerEngine

    batch = BatchAnalyzerEngine(analyzer_engine=_analyzer(config))
    found: dict[str, set[str]] = {}
    start = time.perf_counter()
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        distinct = list(dict.fromkeys(series.astype(str).tolist()))
        results = batch.analyze_iterator(distinct, language="en", entities=list(config.entities),
                                         score_threshold=config.min_score)
        counts: dict[str, int] = {}
        for value_results in results:
            for e in {r.entity_type for r in value_results}:
                counts[e] = counts.get(e, 0) + 1
        found[column] = {e for e, n in counts.items() if column == "note" or n / len(distinct) >= config.min_hit_rate}
    return time.perf_counter() - start, found


def ours_on(frame: pd.DataFrame, config: PiiPolicy) -> tuple[float, dict[str, set[str]], set]:
    start = time.perf_counter()
    report = scan_table(frame, config, free_text_columns=("note",))
    elapsed = time.perf_counter() - start
    found = {c: set(r.classified) for c, r in report.columns.items()}
    spans = {(row["row"], row["entity"], row["start"], row["end"]) for row in report.row_spans(frame)
             if row["column"] == "note"}
    return elapsed, found, spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    config = PiiPolicy()
    t = time.perf_counter()
    frame = make_frame(args.rows)
    print(f"frame: {len(frame)} rows x {frame.shape[1]} columns ({time.perf_counter() - t:.1f} s to build), "
          f"{frame['name'].nunique()} distinct names, {frame['note'].nunique()} distinct notes")
    analyze_text("warm up Maria Garcia 212-555-0199", config)  # load lists and recognizers once, untimed

    ours_s, ours_found, _ = ours_on(frame, config)
    print(f"ours     : {len(frame)} rows in {ours_s:.1f} s = {len(frame) / ours_s:,.0f} rows/s")
    base_s, base_found = batch_baseline(frame, config)
    print(f"baseline : {len(frame)} rows in {base_s:.1f} s = {len(frame) / base_s:,.0f} rows/s "
          f"(BatchAnalyzerEngine, numeric columns skipped, distinct values once)")
    print("per-column entity types (baseline | ours):")
    for c in base_found:
        mark = "=" if base_found[c] == ours_found.get(c, set()) else "≠"
        print(f"  {c:<9} {mark} {sorted(base_found[c])} | {sorted(ours_found.get(c, set()))}")
    print(f"ratio: {base_s / ours_s:.2f}")


if __name__ == "__main__":
    main()
