"""`digits` source generator (the spec is specs/digits.yaml): scikit-learn's 8x8 handwritten digits as 64 pixel columns (0..16), a small torch CNN."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_digits

from mlsecops.core.fileio import atomic_path
from mlsecops.stages.screened_data import write_reference

PIXELS = tuple(f"pix_{i}" for i in range(64))
SEED = 20240612


def make_frame(seed: int = SEED) -> pd.DataFrame:
    data = load_digits()
    frame = pd.DataFrame(data.data.astype("int64"), columns=list(PIXELS))
    frame["label"] = data.target.astype("int64")
    rng = random.Random(seed)
    start = datetime(2024, 3, 1, 9, 0, 0)
    frame.insert(0, "recorded_at", [(start + timedelta(minutes=37 * i + rng.randint(0, 30))).strftime("%Y-%m-%dT%H:%M:%S")
                                    for i in range(len(frame))])
    return frame


def write_source(path: Path) -> None:
    with atomic_path(path) as tmp:
        make_frame().to_csv(tmp, index=False)


def write_trusted_slice(path: Path) -> None:
    """The trusted reference slice: a stratified 12% of the reference rows, features and label only."""
    write_reference(make_frame(), list(PIXELS), "label", path)



def __getattr__(name: str):  # noqa: ANN202  `DIGITS`, `SCHEMA`, `TRUSTED_SHA256`: the spec file specs/digits.yaml, loaded
    if name in ("DIGITS", "SCHEMA", "TRUSTED_SHA256"):
        from mlsecops.pipelines.registry import get_pipeline

        spec = get_pipeline("digits")
        return {"DIGITS": spec, "SCHEMA": spec.schema, "TRUSTED_SHA256": spec.reference.sha256}[name]
    raise AttributeError(name)
