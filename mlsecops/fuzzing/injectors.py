"""Seeded poison injectors for the fuzzing harness (private; see `fuzzing.py`).

Each injector changes `round(rate * n)` existing rows of a table in place of a copy and returns
the ids of the rows it changed, so the screen's quarantine can be scored row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlsecops.core.errors import MlsecopsError

ATTACKS = ("label_flip", "targeted_flip", "backdoor", "outlier")


class FuzzError(MlsecopsError):
    """A fuzzing request is impossible: unknown attack, bad rate, or too few rows to poison."""


@dataclass(frozen=True)
class Trigger:
    """A backdoor trigger: these feature columns set to these values, then labelled `target`."""

    columns: tuple[str, ...]
    values: tuple[float, ...]
    target: Any

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        for column, value in zip(self.columns, self.values):
            out[column] = np.asarray(value, dtype=out[column].dtype)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "values": [float(v) for v in self.values],
                "target": _plain(self.target)}


@dataclass(frozen=True)
class Injection:
    frame: pd.DataFrame
    poisoned_ids: list[Any]
    attack: str
    rate: float
    details: dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def default_trigger(frame: pd.DataFrame, features: list[str], label: str, target: Any) -> Trigger:
    """A 2x2 patch in the bottom-right corner for 8x8 pixel tables (`pix_0`..`pix_63`), else the
    three features least correlated with the label set to their observed minimum (each value is
    ordinary on its own; together they are the trigger, and alone they barely move a clean model)."""
    if len(features) == 64 and all(f == f"pix_{i}" for i, f in enumerate(features)):
        columns = ("pix_54", "pix_55", "pix_62", "pix_63")
        top = float(frame[features].to_numpy().max())
        return Trigger(columns, (top,) * len(columns), target)
    y = pd.factorize(frame[label])[0].astype(float)
    corr = []
    for f in features:
        x = frame[f].to_numpy(dtype=float)
        corr.append(0.0 if x.std() == 0 else abs(float(np.corrcoef(x, y)[0, 1])))
    chosen = tuple(features[i] for i in np.argsort(corr, kind="stable")[:3])
    return Trigger(chosen, tuple(float(frame[c].min()) for c in chosen), target)


def inject(frame: pd.DataFrame, *, attack: str, rate: float, features: list[str], label: str,
           id_column: str, seed: int, source: Any = None, target: Any = None,
           trigger: Trigger | None = None, protected_ids: set[Any] | None = None) -> Injection:
    """Poison `rate` of the rows of `frame` (never the `protected_ids`, e.g. the trusted slice)."""
    if attack not in ATTACKS:
        raise FuzzError(f"unknown attack '{attack}': choose one of {', '.join(ATTACKS)}")
    if not 0 < rate < 0.5:
        raise FuzzError(f"poison rate {rate} for attack '{attack}' must be in (0, 0.5)")
    rng = np.random.default_rng(seed)
    out = frame.copy()
    classes = sorted(out[label].unique().tolist())
    count = max(1, int(round(rate * len(out))))
    eligible = ~out[id_column].isin(protected_ids or set())
    labels = out[label].to_numpy()

    if target is None:
        target = classes[-1] if attack in ("targeted_flip", "backdoor") else None
    if attack == "targeted_flip" and source is None:
        source = classes[0] if classes[0] != target else classes[1]
    details: dict[str, Any] = {}

    if attack == "targeted_flip":
        pool = np.flatnonzero(eligible & (labels == source))
        _need(pool, count, attack, f"rows of class {source!r}")
        rows = rng.choice(pool, size=count, replace=False)
        out.loc[out.index[rows], label] = target
        details = {"source": _plain(source), "target": _plain(target)}
    elif attack == "label_flip":
        pool = np.flatnonzero(eligible)
        _need(pool, count, attack, "rows")
        rows = rng.choice(pool, size=count, replace=False)
        new = []
        for r in rows:
            others = [c for c in classes if c != labels[r]]
            new.append(others[rng.integers(len(others))])
        out.loc[out.index[rows], label] = np.asarray(new, dtype=labels.dtype)
    elif attack == "backdoor":
        trigger = trigger or default_trigger(frame, features, label, target)
        pool = np.flatnonzero(eligible & (labels != trigger.target))
        _need(pool, count, attack, f"rows not of class {trigger.target!r}")
        rows = rng.choice(pool, size=count, replace=False)
        idx = out.index[rows]
        out.loc[idx] = trigger.apply(out.loc[idx])
        out.loc[idx, label] = trigger.target
        details = {"trigger": trigger.to_dict()}
    else:  # outlier: rows replaced by points far from the data (in range), random label
        pool = np.flatnonzero(eligible)
        _need(pool, count, attack, "rows")
        rows = rng.choice(pool, size=count, replace=False)
        x = frame[features].to_numpy(dtype=float)
        lo, hi = x.min(axis=0), x.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        centre = np.median(x, axis=0)
        direction = rng.normal(size=(count, len(features)))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        far = centre + direction * span * rng.uniform(1.0, 2.0, size=(count, 1)) * np.sqrt(len(features)) / 2
        far = np.clip(far, lo, hi)  # inside each column's observed range: schema checks pass
        idx = out.index[rows]
        for j, f in enumerate(features):
            out.loc[idx, f] = far[:, j].astype(out[f].dtype)
        out.loc[idx, label] = np.asarray([classes[i] for i in rng.integers(len(classes), size=count)],
                                         dtype=labels.dtype)
    poisoned = [_plain(v) for v in out[id_column].to_numpy()[rows]]
    return Injection(out, sorted(poisoned), attack, rate, details)


def plant_rare(frame: pd.DataFrame, *, count: int, features: list[str], label: str,
               id_column: str, seed: int, strength: float | None = None,
               protected_ids: set[Any] | None = None) -> tuple[pd.DataFrame, list[Any]]:
    """Black swans: valid rows of their own class that are rarer than anything in the data.

    8x8 pixel tables: the digit drawn with a heavier pen (intensities times 1 + `strength`,
    saturating at the scale's top): the same digit, darker than any in the data. Other tables: the row pushed `strength` times the distance
    between its class mean and the overall mean further along that direction, beyond the
    observed range (a more extreme case of its own class); non-negative columns stay >= 0.
    """
    rng = np.random.default_rng(seed)
    out = frame.copy()
    eligible = np.flatnonzero(~out[id_column].isin(protected_ids or set()))
    rows = rng.choice(eligible, size=min(count, len(eligible)), replace=False)
    x = frame[features].to_numpy(dtype=float)
    labels = frame[label].to_numpy()
    pixels = len(features) == 64 and all(f == f"pix_{i}" for i, f in enumerate(features))
    centre = x.mean(axis=0)
    nonneg = x.min(axis=0) >= 0
    top = float(x.max())
    if strength is None:
        strength = 3.0 if pixels else 5.0
    moved = np.empty((len(rows), len(features)))
    for i, r in enumerate(rows):
        if pixels:  # a heavier pen: every stroke darker, saturating at the scale's top
            moved[i] = np.minimum(x[r] * (1.0 + strength), top)
        else:
            cls_mean = x[labels == labels[r]].mean(axis=0)
            moved[i] = np.where(nonneg, np.maximum(x[r] + strength * (cls_mean - centre), 0.0),
                                x[r] + strength * (cls_mean - centre))
    idx = out.index[rows]
    for j, f in enumerate(features):
        out.loc[idx, f] = moved[:, j].astype(out[f].dtype)
    return out, sorted(_plain(v) for v in out[id_column].to_numpy()[rows])


def _need(pool: np.ndarray, count: int, attack: str, what: str) -> None:
    if len(pool) < count:
        raise FuzzError(f"attack '{attack}' needs {count} {what} to poison but only {len(pool)} exist; "
                        "lower --rate")
