"""`patients` source generator (the spec is specs/patients.yaml): scikit-learn's breast-cancer data joined with synthetic identities (Faker, fixed seed).

The source carries personal data on purpose: name, email, phone, SSN, address, date of birth and a
free-text `clinical_note` that sometimes embeds them. Only the 30 numeric features reach training.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from faker import Faker
from sklearn.datasets import load_breast_cancer

from mlsecops.core.fileio import atomic_path
from mlsecops.stages.screened_data import write_reference

SEED = 20240611
IDENTITY = ("name", "email", "phone", "ssn", "address", "date_of_birth")
NOTE_TEMPLATES = (
    "Patient {name} seen for follow-up imaging; no acute distress.",
    "Called {phone} to schedule biopsy review. Results sent to {email}.",
    "{name} (DOB {date_of_birth}) reports mild discomfort; lives at {address}.",
    "Insurance verification used SSN {ssn}.",
    "Routine screening, no complaints.",
    "Follow-up in six months.",
    "Discussed results with the patient; questions answered.",
)


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def feature_names() -> list[str]:
    """The 30 numeric features (snake_case), the only columns that reach training."""
    return [_snake(c) for c in load_breast_cancer(as_frame=True).frame.drop(columns="target").columns]


def make_frame(seed: int = SEED) -> pd.DataFrame:
    """The reference `patients` table, deterministic for a seed."""
    data = load_breast_cancer(as_frame=True)
    features = data.frame.drop(columns="target").rename(columns=_snake)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 8, 0, 0)
    rows = []
    for i in range(len(features)):
        person = {"name": fake.name(), "email": fake.email(), "phone": fake.numerify("###-###-####"),
                  "ssn": fake.ssn(), "address": fake.street_address() + ", " + fake.city(),
                  "date_of_birth": fake.date_of_birth(minimum_age=25, maximum_age=85).isoformat()}
        person["clinical_note"] = rng.choice(NOTE_TEMPLATES).format(**person)
        person["recorded_at"] = (start + timedelta(hours=13 * i + rng.randint(0, 12))).strftime("%Y-%m-%dT%H:%M:%S")
        rows.append(person)
    identities = pd.DataFrame(rows)
    return pd.concat([identities, features, data.frame["target"].rename("label")], axis=1)


def write_source(path: Path) -> None:
    with atomic_path(path) as tmp:
        make_frame().to_csv(tmp, index=False)


def write_trusted_slice(path: Path) -> None:
    """The trusted reference slice: a stratified 12% of the reference rows, features and label only."""
    write_reference(make_frame(), feature_names(), "label", path)



def __getattr__(name: str):  # noqa: ANN202  `PATIENTS`, `SCHEMA`, `TRUSTED_SHA256`: the spec file specs/patients.yaml, loaded
    if name in ("PATIENTS", "SCHEMA", "TRUSTED_SHA256"):
        from mlsecops.pipelines.registry import get_pipeline

        spec = get_pipeline("patients")
        return {"PATIENTS": spec, "SCHEMA": spec.schema, "TRUSTED_SHA256": spec.reference.sha256}[name]
    raise AttributeError(name)
