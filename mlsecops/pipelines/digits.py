"""`digits`: scikit-learn's 8x8 handwritten digits as 64 pixel columns (0..16), a small torch CNN."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_digits

from mlsecops.core.fileio import atomic_path
from mlsecops.stages.screened_data import write_reference
from mlsecops.stages.framework import PipelineSpec, ReferenceSlice
from mlsecops.stages.adversarial_evaluation import IMAGE_ATTACKS
from mlsecops.stages.chain import standard_stages
from mlsecops.core.schema import Column, TableSchema

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


# sha256 of the trusted slice write_trusted_slice produces: a changed slice stops screened_data.
TRUSTED_SHA256 = "3c590e870a58050cc37fb5f1f7fa81c313edcdba1e9ae2de71d76124d2219394"

SCHEMA = TableSchema(
    "digits",
    columns=(Column("recorded_at", "datetime", "timestamp"),)
    + tuple(Column(p, "int", "feature", 0, 16) for p in PIXELS) + (Column("label", "int", "label"),),
    labels=tuple(range(10)),
)

DIGITS = PipelineSpec(
    name="digits",
    description="Handwritten digit recognition (8x8 images, small CNN).",
    schema=SCHEMA, source_file="digits.csv", make_source=write_source,
    net={"architecture": "cnn", "side": 8, "channels": 16}, stages=standard_stages(IMAGE_ATTACKS),
    reference=ReferenceSlice("digits.reference.csv", write_trusted_slice, sha256=TRUSTED_SHA256),
)
