"""Poisoned-data screening against a trusted reference slice, with a quarantine that drops nothing silently.

    report = screen_table(frame, reference, features=cols, label="label", config=ScreenConfig())
    kept = frame[report.keep_mask]                    # report.flagged: one entry per quarantined row
    outcomes = evaluate_screen(report.to_dict(), max_flagged_fraction=0.03, max_trigger_fraction=0.005)

Four signals per candidate row, each calibrated on the trusted slice (see `_poison_signals.py`):
RONI harm (validation-loss rise if the row joined the trusted training set), label consistency
(trusted model + nearest neighbours), spectral signature in its stated class, and novelty. A row is
quarantined as poison when at least `min_votes` of harm / label / neighbours / spectral vote
against it, when the trusted model all but rules out its label (`strong_label_probability`), or
when it carries a trigger: exact feature values shared by most flagged rows of its
stated class and rare in the trusted slice. A rare row (novelty above the trusted slice's 95th percentile) that is not poison is a
**black swan**: kept, and listed in the report. A found trigger is reported (backdoor check).

Label campaigns: a targeted flip or a backdoor moves many rows into one stated class, so that class
is flagged far more often than the screen's normal alarm rate (`campaign_alarm_rate`, binomial
p-value below `campaign_p_value`). In such a class, and only there, a single piece of evidence
suffices: a row that raises validation loss (the harm vote) and whose stated label the trusted
model finds less likely than `campaign_label_probability` is quarantined too. Clean data rarely
trips the test, so its false alarms do not grow.

Stable API: `ScreenConfig`, `screen_table`, `ScreenReport`, `evaluate_screen`, `describe_campaign`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlsecops.controls.data.integrity._signals import compute_signals, standardize
from mlsecops.core.outcome import DATA_PROCESSING, CheckOutcome
from mlsecops.core.errors import MlsecopsError

SCHEMA = "mlsecops.poisoning/v1"


class ScreenError(MlsecopsError):
    """The screen cannot run: missing columns, non-numeric features, too small a trusted slice."""


@dataclass(frozen=True)
class ScreenConfig:
    """Thresholds of the screen; `mlsecops.controls.data.integrity.policy.PoisoningPolicy` carries the same fields."""

    harm_quantile: float = 0.98          # harm vote: above this quantile of trusted held-out rows
    max_label_probability: float = 0.1   # label vote: trusted model gives the stated label less
    min_neighbour_agreement: float = 0.4  # neighbour vote: fewer of the k nearest rows agree
    spectral_factor: float = 2.0         # spectral vote: above factor x trusted 99th percentile
    min_votes: int = 2                   # votes needed to quarantine a row
    strong_label_probability: float = 0.02  # below this, the label vote alone quarantines
    rare_quantile: float = 0.95          # novelty above this trusted quantile = rare
    neighbours: int = 10
    reference_folds: int = 5
    c_harm: float = 0.01                 # inverse L2 strength of the influence model
    c_label: float = 1.0                 # inverse L2 strength of the label-consistency model
    trigger_share: float = 0.8           # a trigger value is shared by this share of a class's flagged rows
    trigger_min_rows: int = 5            # ... of at least this many flagged rows
    campaign_alarm_rate: float = 0.02    # share of a clean class the screen normally flags
    campaign_p_value: float = 0.001      # a class flagged beyond this binomial tail is under a campaign
    campaign_label_probability: float = 0.5  # ... where harm + trusted label probability below this quarantine
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("harm_quantile", "max_label_probability", "min_neighbour_agreement", "rare_quantile",
                     "trigger_share", "strong_label_probability", "campaign_alarm_rate", "campaign_p_value",
                     "campaign_label_probability"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ScreenError(f"screen config '{name}' = {value} must be within [0, 1]")
        if not 1 <= self.min_votes <= 4:
            raise ScreenError(f"screen config 'min_votes' = {self.min_votes} must be 1..4")
        if self.neighbours < 1 or self.reference_folds < 3:
            raise ScreenError("screen config needs neighbours >= 1 and reference_folds >= 3")


@dataclass
class ScreenReport:
    """The quarantine: every flagged row with its signals, votes and reason; black swans kept."""

    rows: int
    reference_rows: int
    features: list[str]
    label: str
    flagged: list[dict[str, Any]]
    black_swans: list[dict[str, Any]]
    triggers: list[dict[str, Any]]
    campaigns: list[dict[str, Any]]
    cuts: dict[str, float]
    config: dict[str, Any]
    seconds: float
    keep_mask: np.ndarray = field(repr=False)
    by_class: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def flagged_ids(self) -> list[Any]:
        return [row["id"] for row in self.flagged]

    @property
    def flagged_fraction(self) -> float:
        return len(self.flagged) / self.rows if self.rows else 0.0

    @property
    def trigger_fraction(self) -> float:
        return sum(t["rows"] for t in self.triggers) / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able evidence document (the quarantine)."""
        return {"schema": SCHEMA, "rows": self.rows, "reference_rows": self.reference_rows,
                "features": self.features, "label": self.label,
                "flagged_count": len(self.flagged), "flagged_fraction": round(self.flagged_fraction, 6),
                "kept_rows": int(self.keep_mask.sum()),
                "black_swan_count": len(self.black_swans),
                "trigger_fraction": round(self.trigger_fraction, 6),
                "flagged": self.flagged, "black_swans": self.black_swans, "triggers": self.triggers,
                "campaigns": self.campaigns,
                "by_class": self.by_class, "cuts": self.cuts, "config": self.config,
                "seconds": round(self.seconds, 3)}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _matrix(frame: pd.DataFrame, features: list[str], label: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    missing = [c for c in [*features, label] if c not in frame.columns]
    if missing:
        raise ScreenError(f"{what} table lacks column(s) {', '.join(missing)} needed by the poisoning screen")
    try:
        x = frame[features].to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ScreenError(f"{what} table has non-numeric feature values: {exc}") from None
    if not np.isfinite(x).all():
        bad = [c for c in features if not np.isfinite(frame[c].to_numpy(dtype=float)).all()]
        raise ScreenError(f"{what} table has NaN/inf in feature column(s) {', '.join(bad[:5])}")
    return x, frame[label].to_numpy()


def screen_table(frame: pd.DataFrame, reference: pd.DataFrame, *, features: list[str], label: str,
                 id_column: str | None = None, config: ScreenConfig | None = None) -> ScreenReport:
    """Screen every row of `frame` against the trusted `reference` slice (same columns)."""
    cfg = config or ScreenConfig()
    started = time.perf_counter()
    x, y = _matrix(frame, features, label, "candidate")
    x_ref, y_ref = _matrix(reference, features, label, "trusted reference")
    classes, counts = np.unique(y_ref, return_counts=True)
    unknown = sorted(set(np.unique(y).tolist()) - set(classes.tolist()))
    if unknown:
        raise ScreenError(f"candidate labels {unknown} never occur in the trusted reference slice: "
                          "the slice must cover every class")
    if counts.min() < cfg.reference_folds:
        raise ScreenError(f"the trusted reference slice has only {counts.min()} row(s) of class "
                          f"{_plain(classes[counts.argmin()])!r}; it needs >= {cfg.reference_folds} per class")
    if len(frame) <= cfg.neighbours:
        raise ScreenError(f"{len(frame)} candidate rows are too few to screen (need > {cfg.neighbours})")
    ids = frame[id_column].to_numpy() if id_column else np.arange(len(frame))

    z_ref, z = standardize(x_ref, x)
    # Small dense problems: one BLAS thread is faster than many, and far faster on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        sig = compute_signals(z_ref, y_ref, z, y, folds=cfg.reference_folds, c_reg=cfg.c_harm,
                              c_label=cfg.c_label, neighbours=cfg.neighbours, seed=cfg.seed,
                              calibration_quantile=0.99, rare_quantile=cfg.rare_quantile)
    spectral_cut = cfg.spectral_factor * sig.spectral_ref_q
    votes = {
        "harm": sig.harm_quantile >= cfg.harm_quantile,
        "label": sig.p_label < cfg.max_label_probability,
        "neighbours": sig.knn_agree < cfg.min_neighbour_agreement,
        "spectral": sig.spectral > spectral_cut,
    }
    count = sum(v.astype(int) for v in votes.values())
    poison = (count >= cfg.min_votes) | (sig.p_label < cfg.strong_label_probability)
    rare = sig.novelty > sig.novelty_ref_q

    def signals_of(i: int) -> dict[str, float]:
        return {"harm": float(sig.harm[i]), "harm_quantile": round(float(sig.harm_quantile[i]), 4),
                "label_probability": round(float(sig.p_label[i]), 6),
                "neighbour_agreement": round(float(sig.knn_agree[i]), 4),
                "spectral": round(float(sig.spectral[i]), 4), "novelty": round(float(sig.novelty[i]), 4)}

    triggers = _trigger_scan(x, x_ref, y, poison, features, ids, cfg)
    trigger_rows = np.zeros(len(y), dtype=bool)
    for t in triggers:
        trigger_rows[t.pop("carrier_positions")] = True
    poison = poison | trigger_rows
    campaigns, campaign_rows = _campaign_scan(y, poison, votes["harm"], sig.p_label, classes, cfg)
    poison = poison | campaign_rows
    flagged, swans = [], []
    for i in np.flatnonzero(poison | rare):
        why = [name for name, v in votes.items() if v[i]] + (["trigger"] if trigger_rows[i] else []) \
            + (["campaign"] if campaign_rows[i] else [])
        entry = {"id": _plain(ids[i]), "label": _plain(y[i]), "signals": signals_of(i), "votes": why}
        if poison[i]:
            entry["reason"] = _reason(why, sig, i, cfg, spectral_cut, triggers, campaigns)
            entry["rare"] = bool(rare[i])
            flagged.append(entry)
        else:
            entry["reason"] = ("rare (novelty %.2f > trusted %.0fth percentile %.2f) but label-consistent and "
                               "not harmful: kept" % (sig.novelty[i], 100 * cfg.rare_quantile, sig.novelty_ref_q))
            swans.append(entry)

    by_class = {str(_plain(c)): {"rows": int((y == c).sum()), "flagged": int((poison & (y == c)).sum())}
                for c in classes}
    cuts = {"harm_quantile": cfg.harm_quantile, "label_probability": cfg.max_label_probability,
            "neighbour_agreement": cfg.min_neighbour_agreement, "spectral": round(spectral_cut, 4),
            "novelty": round(sig.novelty_ref_q, 4)}
    return ScreenReport(rows=len(frame), reference_rows=len(reference), features=list(features), label=label,
                        flagged=flagged, black_swans=swans, triggers=triggers, campaigns=campaigns, cuts=cuts,
                        config=asdict(cfg),
                        seconds=time.perf_counter() - started, keep_mask=~poison, by_class=by_class)


def _reason(why: list[str], sig: Any, i: int, cfg: ScreenConfig, spectral_cut: float,
            triggers: list[dict[str, Any]], campaigns: list[dict[str, Any]]) -> str:
    parts = []
    if "harm" in why:
        parts.append(f"adding it raises trusted validation loss more than {100 * cfg.harm_quantile:.0f}% of "
                     f"trusted rows do (quantile {sig.harm_quantile[i]:.3f})")
    if "label" in why:
        strong = " (decisive alone)" if sig.p_label[i] < cfg.strong_label_probability else ""
        parts.append(f"the trusted model gives its label probability {sig.p_label[i]:.3f}{strong}")
    if "neighbours" in why:
        parts.append(f"only {sig.knn_agree[i]:.0%} of its {cfg.neighbours} nearest rows share its label")
    if "spectral" in why:
        parts.append(f"spectral score {sig.spectral[i]:.1f} > {spectral_cut:.1f} within its stated class")
    if "trigger" in why:
        cols = next((t["columns"] for t in triggers), [])
        parts.append(f"carries the trigger pattern shared by flagged rows ({', '.join(cols[:6])})")
    if "campaign" in why:
        parts.append(f"its class is under a label campaign and the trusted model gives its label only "
                     f"{sig.p_label[i]:.2f} (< {cfg.campaign_label_probability})")
    return "poison: " + "; ".join(parts)


def describe_campaign(campaign: dict[str, Any]) -> str:
    """One campaign of the evidence in words (stage summary and check detail)."""
    return (f"label campaign suspected into class {campaign['label']} ({campaign['flagged']} of "
            f"{campaign['rows']} rows flagged, ~{campaign['expected']:g} expected)")


def _campaign_scan(y: np.ndarray, poison: np.ndarray, harm_vote: np.ndarray, p_label: np.ndarray,
                   classes: np.ndarray, cfg: ScreenConfig) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Stated classes flagged far above the normal alarm rate, and the harmful, disputed rows added there."""
    from scipy.stats import binom

    found, added = [], np.zeros(len(y), dtype=bool)
    for c in classes:
        members = y == c
        n, k = int(members.sum()), int((poison & members).sum())
        if not n or not k:
            continue
        p_value = float(binom.sf(k - 1, n, cfg.campaign_alarm_rate))  # P(>= k flagged | normal rate)
        if p_value >= cfg.campaign_p_value:
            continue
        rows = members & ~poison & harm_vote & (p_label < cfg.campaign_label_probability)
        added |= rows
        found.append({"label": _plain(c), "rows": n, "flagged": k,
                      "expected": round(n * cfg.campaign_alarm_rate, 2), "p_value": p_value,
                      "added": int(rows.sum())})
    return found, added


def _trigger_scan(x: np.ndarray, x_ref: np.ndarray, y: np.ndarray, poison: np.ndarray,
                  features: list[str], ids: np.ndarray, cfg: ScreenConfig) -> list[dict[str, Any]]:
    """Flagged rows of one stated class that share exact feature values rare in the trusted slice.

    A planted trigger writes the same values into every poisoned row; honest rows, even flagged
    ones, rarely agree exactly on a value the trusted rows seldom take. Every row of that class
    carrying all the shared values is returned as a carrier, flagged or not.
    """
    found = []
    for c in np.unique(y[poison]):
        rows = np.flatnonzero(poison & (y == c))
        if len(rows) < cfg.trigger_min_rows:
            continue
        columns, values = [], []
        for j in range(len(features)):
            vals, counts = np.unique(x[rows, j], return_counts=True)
            mode = vals[counts.argmax()]
            if counts.max() / len(rows) >= cfg.trigger_share and np.mean(x_ref[:, j] == mode) <= 0.05:
                columns.append(j)
                values.append(float(mode))
        if not columns:
            continue
        carriers = np.flatnonzero((y == c) & np.all(x[:, columns] == np.asarray(values), axis=1))
        found.append({"label": _plain(c), "columns": [features[j] for j in columns], "values": values,
                      "rows": int(len(carriers)), "carrier_positions": carriers.tolist(),
                      "ids": [_plain(v) for v in ids[carriers]]})
    return found


def evaluate_screen(evidence: dict[str, Any], *, max_flagged_fraction: float,
                    max_trigger_fraction: float) -> list[CheckOutcome]:
    """The blocking outcomes for a screen's evidence: flagged fraction (AML.T0020), trigger (AML.T0043.004)."""
    try:
        fraction = float(evidence["flagged_fraction"])
        trigger = float(evidence["trigger_fraction"])
        count, rows = int(evidence["flagged_count"]), int(evidence["rows"])
        triggers = evidence["triggers"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ScreenError(f"poisoning evidence is incomplete or malformed ({exc}): re-run the screen") from None
    ok = fraction <= max_flagged_fraction
    flagged = CheckOutcome(
        check="poisoning_screen", passed=ok, value=round(fraction, 4), threshold=max_flagged_fraction,
        policy_key="poisoning.max_flagged_fraction", control=DATA_PROCESSING, atlas="AML.T0020",
        mitigation="AML.M0007",
        detail=(f"{count} of {rows} rows ({fraction:.2%}) quarantined as likely poison "
                f"{'<=' if ok else '>'} {max_flagged_fraction:.2%}; "
                f"{evidence.get('black_swan_count', 0)} rare-but-consistent rows kept"
                + "".join(f"; {describe_campaign(c)}" for c in evidence.get("campaigns", []))))
    ok_t = trigger <= max_trigger_fraction
    where = "; ".join(f"class {t['label']}: {t['rows']} rows share {', '.join(t['columns'][:6])}" for t in triggers)
    trig = CheckOutcome(
        check="backdoor_trigger", passed=ok_t, value=round(trigger, 4), threshold=max_trigger_fraction,
        policy_key="poisoning.max_trigger_fraction", control=DATA_PROCESSING, atlas="AML.T0043.004",
        mitigation="AML.M0007",
        detail=(f"suspected trigger pattern(s): {where}" if triggers else "no flagged rows share a trigger pattern"))
    return [flagged, trig]
