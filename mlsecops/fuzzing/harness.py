"""ML fuzzing harness: inject seeded poison into training data, screen it, train, and measure.

    report = run_fuzz(train, test, reference, features=cols, label="label", net_config={"architecture": "mlp"},
                      train_config=TrainConfig(epochs=30), attacks=["backdoor"], rates=[0.05])
    report.to_dict(); render_table(report); plot_report(report, Path("fuzz.png"))

Per attack and rate: the screen's precision, recall, F1 and false-positive rate against the rows
actually poisoned; clean test accuracy of a model trained on the poisoned table and on the screened
table; for backdoors, the attack success rate (share of test rows of another class that the trigger
turns into the target class) with and without screening. A `clean` row measures the screen and the
model on unpoisoned data (its flagged fraction is the screen's false-alarm rate).

Stable API: `run_fuzz`, `FuzzReport`, `render_table`, `plot_report`, `ATTACKS`, `inject`, `plant_rare`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from mlsecops.fuzzing.injectors import ATTACKS, FuzzError, Injection, Trigger, default_trigger, inject, plant_rare
from mlsecops.controls.data.integrity.poisoning import ScreenConfig, screen_table
from mlsecops.core.fileio import atomic_path

__all__ = ["ATTACKS", "FuzzError", "FuzzReport", "FuzzRow", "Injection", "Trigger", "default_trigger", "inject",
           "plant_rare", "plot_report", "render_table", "run_fuzz"]

ROW_ID = "__fuzz_row__"


@dataclass
class FuzzRow:
    attack: str
    rate: float
    poisoned: int
    flagged: int
    precision: float | None
    recall: float | None
    f1: float | None
    fpr: float | None
    flagged_fraction: float | None
    accuracy_unscreened: float | None
    accuracy_screened: float | None
    asr_unscreened: float | None = None
    asr_screened: float | None = None
    screen_seconds: float = 0.0
    trigger_found: bool | None = None
    skipped: str | None = None


@dataclass
class FuzzReport:
    pipeline: str
    seed: int
    rows: list[FuzzRow]
    candidates: int
    test_rows: int
    reference_rows: int
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "mlsecops.fuzz/v1", "pipeline": self.pipeline, "seed": self.seed,
                "candidates": self.candidates, "test_rows": self.test_rows, "reference_rows": self.reference_rows,
                "config": self.config, "results": [_rounded(asdict(r)) for r in self.rows]}


def _rounded(d: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}


def _prf(flagged: set[Any], poisoned: set[Any], total: int) -> tuple[float | None, float | None, float | None, float]:
    tp = len(flagged & poisoned)
    precision = tp / len(flagged) if flagged else (None if not poisoned else 0.0)
    recall = tp / len(poisoned) if poisoned else None
    f1 = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    negatives = total - len(poisoned)
    fpr = len(flagged - poisoned) / negatives if negatives else 0.0
    return precision, recall, f1, fpr


Trainer = Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]


def torch_trainer(net_config: dict[str, Any], train_config: Any) -> Trainer:
    """Train the pipeline's own torch architecture (mlsecops.models) with the policy's settings."""
    from mlsecops.models.nets import build_net
    from mlsecops.models.training import fit, predict

    def train(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        net = fit(build_net(net_config), x.astype(np.float32), y.astype(np.int64), train_config)
        return lambda q: predict(net, q.astype(np.float32))

    return train


def run_fuzz(candidates: pd.DataFrame, test: pd.DataFrame, reference: pd.DataFrame, *, features: list[str],
             label: str, trainer: Trainer, attacks: Sequence[str], rates: Sequence[float], seed: int = 0,
             screen_config: ScreenConfig | None = None, pipeline: str = "",
             trigger: Trigger | None = None, include_clean: bool = True,
             progress: Callable[[str], None] | None = None) -> FuzzReport:
    """Run every (attack, rate) cell; a cell that cannot be built is reported as skipped, with why."""
    for attack in attacks:
        if attack not in ATTACKS:
            raise FuzzError(f"unknown attack '{attack}': choose from {', '.join(ATTACKS)}")
    for rate in rates:
        if not 0 < rate < 0.5:
            raise FuzzError(f"poison rate {rate} must be in (0, 0.5)")
    cfg = screen_config or ScreenConfig()
    say = progress or (lambda _msg: None)
    base = candidates.reset_index(drop=True).copy()
    base[ROW_ID] = np.arange(len(base))
    x_test = test[features].to_numpy(dtype=float)
    y_test = test[label].to_numpy()
    classes = sorted(base[label].unique().tolist())
    target = classes[-1]
    trig = trigger or default_trigger(base, features, label, target)
    victims = y_test != trig.target
    x_trig = trig.apply(test.loc[victims, features]).to_numpy(dtype=float)

    def evaluate(frame: pd.DataFrame, keep: np.ndarray | None) -> tuple[float, float]:
        used = frame if keep is None else frame[keep]
        model = trainer(used[features].to_numpy(dtype=float), used[label].to_numpy())
        accuracy = float((model(x_test) == y_test).mean())
        asr = float((model(x_trig) == trig.target).mean()) if len(x_trig) else 0.0
        return accuracy, asr

    rows: list[FuzzRow] = []
    cells: list[tuple[str, float]] = ([("clean", 0.0)] if include_clean else []) + \
        [(a, r) for a in attacks for r in rates]
    for attack, rate in cells:
        say(f"{attack} @ {rate:g}")
        if attack == "clean":
            frame, poisoned = base, set()
        else:
            try:
                inj = inject(base, attack=attack, rate=rate, features=features, label=label, id_column=ROW_ID,
                             seed=seed, trigger=trig if attack == "backdoor" else None,
                             target=trig.target)
            except FuzzError as exc:
                rows.append(FuzzRow(attack, rate, 0, 0, None, None, None, None, None, None, None,
                                    skipped=str(exc)))
                continue
            frame, poisoned = inj.frame, set(inj.poisoned_ids)
        report = screen_table(frame, reference, features=features, label=label, id_column=ROW_ID, config=cfg)
        flagged = set(report.flagged_ids)
        precision, recall, f1, fpr = _prf(flagged, poisoned, len(frame))
        acc_u, asr_u = evaluate(frame, None)
        acc_s, asr_s = evaluate(frame, report.keep_mask)
        is_backdoor = attack == "backdoor"
        rows.append(FuzzRow(attack, rate, len(poisoned), len(flagged), precision, recall, f1, fpr,
                            report.flagged_fraction, acc_u, acc_s,
                            asr_u if is_backdoor or attack == "clean" else None,
                            asr_s if is_backdoor or attack == "clean" else None,
                            report.seconds, bool(report.triggers) if is_backdoor or attack == "clean" else None))
    return FuzzReport(pipeline, seed, rows, len(base), len(test), len(reference),
                      {"screen": asdict(cfg), "trigger": trig.to_dict(), "attacks": list(attacks),
                       "rates": list(rates)})


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if np.isnan(v):
            return "—"
        return f"{v:.1%}" if pct else f"{v:.3f}"
    return str(v)


def render_table(report: FuzzReport) -> Any:
    """A rich Table with one line per (attack, rate)."""
    from rich.table import Table

    table = Table(title=f"fuzzing {report.pipeline or 'data'} (seed {report.seed}; {report.candidates} training rows, "
                        f"{report.reference_rows} trusted, {report.test_rows} test)", title_justify="left")
    for col in ("attack", "rate", "poisoned", "flagged", "precision", "recall", "F1", "FPR", "acc raw",
                "acc screened", "ASR raw", "ASR screened", "screen s"):
        table.add_column(col, justify="left" if col == "attack" else "right")
    for r in report.rows:
        if r.skipped:
            table.add_row(r.attack, f"{r.rate:g}", "[yellow]skipped[/]", r.skipped, *[""] * 9)
            continue
        table.add_row(r.attack, f"{r.rate:g}", str(r.poisoned), str(r.flagged), _fmt(r.precision), _fmt(r.recall),
                      _fmt(r.f1), _fmt(r.fpr, True), _fmt(r.accuracy_unscreened), _fmt(r.accuracy_screened),
                      _fmt(r.asr_unscreened, True), _fmt(r.asr_screened, True), f"{r.screen_seconds:.2f}")
    return table


def plot_report(report: FuzzReport, path: Path) -> Path:
    """PNG: screen recall/precision per attack vs rate, and backdoor ASR with and without screening."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in report.rows if not r.skipped and r.attack != "clean"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for attack in sorted({r.attack for r in rows}):
        pts = sorted((r for r in rows if r.attack == attack), key=lambda r: r.rate)
        rates = [r.rate for r in pts]
        axes[0].plot(rates, [r.recall or 0 for r in pts], marker="o", label=attack)
        axes[1].plot(rates, [r.precision or 0 for r in pts], marker="o", label=attack)
    bd = sorted((r for r in rows if r.attack == "backdoor"), key=lambda r: r.rate)
    if bd:
        axes[2].plot([r.rate for r in bd], [r.asr_unscreened for r in bd], marker="o", color="tab:red",
                     label="unscreened")
        axes[2].plot([r.rate for r in bd], [r.asr_screened for r in bd], marker="o", color="tab:green",
                     label="screened")
    for ax, title in zip(axes, ("screen recall", "screen precision", "backdoor attack success")):
        ax.set_title(title)
        ax.set_xlabel("poison rate")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"fuzzing {report.pipeline} (seed {report.seed})")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
