"""Adversarial evaluation with ART: attack a trained model, measure, and gate on the policy.

    data = prepare_data(X, y, train_index, test_index, image_side=None)      # float32, unit range
    report = evaluate_model(net, data, ("fgsm", "pgd", "membership"), policy.adversarial, plot_dir)
    outcomes = evaluate_adversarial(report.to_dict(), policy.adversarial)  # one CheckOutcome per gate

The engine validates every attack's budget against the policy and the data before any attack runs,
wraps the torch model once in an ART `PyTorchClassifier` (float32, inputs scaled to [0, 1] per
feature so that one eps means the same share of range everywhere) and hands that estimator to every
attack. An attack is one small class in `_adv_attacks.py` (name, ATLAS id, `check_budget`, `run`);
registering it never edits the engine. Gates read only the JSON evidence, so a Dagster check and the
promotion step evaluate the same numbers. ART is imported lazily: importing this module is cheap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

import numpy as np

from mlsecops.core.outcome import MODEL_DEPLOYMENT, MODEL_TRAINING, CheckOutcome
from mlsecops.core.errors import EvidenceError, MlsecopsError, PolicyError

if TYPE_CHECKING:
    from torch import nn

    from mlsecops.controls.model.adversarial.policy import AdversarialPolicy

__all__ = ["AttackData", "AttackResult", "Attack", "Target", "Gate", "AdversarialReport", "AttackBudgetError", "AttackDataError",
           "ATTACKS", "GATES", "register", "prepare_data", "evaluate_model", "evaluate_adversarial", "gates_for"]


class AttackBudgetError(PolicyError):
    """An attack budget from the policy cannot be honoured on this model or data."""


class AttackDataError(MlsecopsError):
    """The rows handed to the adversarial evaluation are malformed."""


@dataclass(frozen=True)
class AttackData:
    """Train/held-out rows in unit space (`(x - lower) / span`), float32, with their labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    lower: np.ndarray
    span: np.ndarray
    classes: int
    image_side: int | None = None

    @property
    def features(self) -> int:
        return int(self.x_train.shape[1])

    def describe(self) -> dict[str, Any]:
        return {"train_rows": int(len(self.x_train)), "test_rows": int(len(self.x_test)),
                "features": self.features, "classes": self.classes, "image_side": self.image_side,
                "space": "unit range, one scale for all pixels" if self.image_side else "unit range per feature"}


def prepare_data(X: np.ndarray, y: np.ndarray, train_index: np.ndarray, test_index: np.ndarray,
                 image_side: int | None = None) -> AttackData:
    """Scale raw features to [0, 1] (per feature for tables, one range for image pixels); float32."""
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if X.ndim != 2 or len(X) != len(y):
        raise AttackDataError(f"adversarial evaluation expects a 2-D feature matrix with one label per row, "
                              f"got features {X.shape} and labels {y.shape}")
    if not np.isfinite(X).all():
        raise AttackDataError("adversarial evaluation got non-finite feature values (NaN or inf)")
    if image_side is not None and X.shape[1] != image_side * image_side:
        raise AttackDataError(f"{X.shape[1]} features are not a {image_side}x{image_side} image")
    if image_side:
        lower = np.full(X.shape[1], X.min(), dtype=np.float32)
        upper = np.full(X.shape[1], X.max(), dtype=np.float32)
    else:
        lower, upper = X.min(0), X.max(0)
    span = np.where(upper > lower, upper - lower, 1.0).astype(np.float32)
    Z = ((X - lower) / span).astype(np.float32)
    return AttackData(Z[train_index], y[train_index], Z[test_index], y[test_index],
                      lower.astype(np.float32), span, int(y.max()) + 1, image_side)


@dataclass
class AttackResult:
    """What one attack measured. `metrics` and `curve` go to the evidence; `figures` become PNGs."""

    attack: str
    atlas: str
    metrics: dict[str, Any]
    curve: dict[str, float] | None = None          # eps -> accuracy, drawn on the robustness plot
    queries: int = 0                               # rows the model answered during the attack
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict, repr=False)  # name -> _adv_plots.PlotSpec

    def to_dict(self) -> dict[str, Any]:
        return {"atlas": self.atlas, "metrics": self.metrics, "curve": self.curve, "queries": self.queries,
                "seconds": round(self.seconds, 3)}


class Target:
    """The model under attack, wrapped once: an ART classifier over unit-space float32 inputs."""

    def __init__(self, net: "nn.Module", data: AttackData) -> None:
        import torch
        from art.estimators.classification import PyTorchClassifier

        self.module = _unit_input_class()(net, data.lower, data.span).eval()
        self.data = data
        self.classifier = PyTorchClassifier(
            model=self.module, loss=torch.nn.CrossEntropyLoss(), input_shape=(data.features,),
            nb_classes=data.classes, clip_values=(0.0, 1.0), device_type="cpu")

    @property
    def queries(self) -> int:
        return self.module.rows_seen

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classifier.predict(np.asarray(x, dtype=np.float32), batch_size=512).argmax(1)


def _unit_input_class() -> type:
    import torch
    from torch import nn

    class UnitInput(nn.Module):
        """unit space -> raw features -> net; counts every row it answers (queries)."""

        def __init__(self, net: nn.Module, lower: np.ndarray, span: np.ndarray) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("lower", torch.as_tensor(lower, dtype=torch.float32))
            self.register_buffer("span", torch.as_tensor(span, dtype=torch.float32))
            self.rows_seen = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.rows_seen += int(x.shape[0])
            return self.net(x.to(torch.float32) * self.span + self.lower)

    return UnitInput


class Attack(Protocol):
    """One attack: a name, the ATLAS technique it emulates, a budget check and a run."""

    name: str
    atlas: str
    # optional `draws_curve = True`: its result has an eps -> accuracy curve for the robustness plot

    def check_budget(self, budget: "AdversarialPolicy", data: AttackData) -> list[str]:
        """Problems (each naming its policy key) that would stop the attack; empty if it can run."""

    def run(self, target: Target, data: AttackData, budget: "AdversarialPolicy") -> AttackResult: ...


ATTACKS: dict[str, Callable[[], Attack]] = {}


def register(cls: type) -> type:
    """Class decorator: add an attack to the registry under its `name`."""
    ATTACKS[cls.name] = cls
    return cls


@dataclass
class AdversarialReport:
    attacks: dict[str, AttackResult]
    data: dict[str, Any]
    budgets: dict[str, Any]
    plots: dict[str, dict[str, str]]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"attacks": {k: v.to_dict() for k, v in self.attacks.items()}, "data": self.data,
                "budgets": self.budgets, "plots": self.plots, "seconds": round(self.seconds, 3)}


def evaluate_model(net: "nn.Module", data: AttackData, attacks: tuple[str, ...] | list[str],
                   budget: "AdversarialPolicy", plot_dir: Path | None = None,
                   progress: Callable[[str], None] | None = None) -> AdversarialReport:
    """Validate every budget, wrap `net` once, run the attacks in order, write PNG plots.

    Each attack starts from the policy's seed (torch and numpy's global generator, which ART's
    HopSkipJump, CopycatCNN and the membership attack model draw from), so its numbers do not depend
    on which attacks ran before it. A result's figures are handed to the plot writer as soon as the
    attack ends, so they render on the idle core while the next attack runs: list a figure-less
    attack (HopSkipJump) last and no plot waits at the end.
    """
    from mlsecops.controls.model.adversarial import _attacks as _adv_attacks  # noqa: F401  (registers the attacks)

    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise AttackBudgetError(f"unknown attack(s) {unknown} (known: {', '.join(sorted(ATTACKS))})")
    members = [ATTACKS[name]() for name in attacks]
    problems = [p for attack in members for p in attack.check_budget(budget, data)]
    if problems:
        raise AttackBudgetError("adversarial budget cannot run: " + "; ".join(problems))
    started = time.perf_counter()
    import torch

    from mlsecops.controls.model.adversarial import plots as _adv_plots

    writer = _adv_plots.PlotWriter(plot_dir) if plot_dir is not None else None
    curves_left = {a.name for a in members if getattr(a, "draws_curve", False)}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models, many small calls: intra-op threads only contend for cores
    try:
        target = Target(net, data)
        results: dict[str, AttackResult] = {}
        for attack in members:
            if progress:
                progress(f"attack {attack.name} ({attack.atlas})")
            torch.manual_seed(budget.seed)
            np.random.seed(budget.seed)
            t0, q0 = time.perf_counter(), target.queries
            result = attack.run(target, data, budget)
            result.seconds = time.perf_counter() - t0
            result.queries = result.queries or target.queries - q0
            results[attack.name] = result
            if writer:
                figures = dict(result.figures)
                if attack.name in curves_left:
                    curves_left.discard(attack.name)
                    if not curves_left:  # every curve is in: the robust-accuracy plot can be drawn
                        figures.update(_adv_plots.robustness_spec(results))
                writer.submit(figures)
    except BaseException:
        if writer:
            writer.close()
        raise
    finally:
        torch.set_num_threads(threads)
    plots = writer.finish() if writer else {}
    return AdversarialReport(results, data.describe(), budget.model_dump(mode="json"), plots,
                             time.perf_counter() - started)


# -- gates ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gate:
    """A blocking check over the evidence: which attack results it reads and how it decides."""

    check: str
    description: str
    attacks: tuple[str, ...]
    decide: Callable[[dict[str, dict[str, Any]], "AdversarialPolicy", int], CheckOutcome]


def _metrics(attacks: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in attacks:
        raise EvidenceError(f"adversarial evidence has no result for attack '{name}' "
                            f"(has: {', '.join(sorted(attacks)) or 'none'}): re-run adversarial_evaluation")
    return attacks[name]["metrics"]


def _robust_accuracy(attacks: dict[str, Any], budget: "AdversarialPolicy", features: int) -> CheckOutcome:
    eps, threshold = budget.evasion.gate_eps, budget.evasion.min_robust_accuracy
    present = [n for n in ("fgsm", "pgd") if n in attacks]
    if not present:
        _metrics(attacks, "pgd")
    worst, by = 1.0, ""
    for name in present:
        curve = attacks[name]["curve"] or {}
        if str(eps) not in curve:
            raise EvidenceError(f"adversarial evidence for '{name}' has no accuracy at eps {eps} "
                                f"(has {sorted(curve)}): re-run adversarial_evaluation with this policy")
        if curve[str(eps)] <= worst:
            worst, by = curve[str(eps)], name
    ok = worst >= threshold
    return CheckOutcome("robust_accuracy", ok, round(worst, 4), threshold, "adversarial.evasion.min_robust_accuracy",
                        MODEL_TRAINING, "AML.T0015",
                        f"accuracy under {by.upper()} at eps {eps} (share of feature range) is {worst:.3f} "
                        f"{'>=' if ok else '<'} {threshold}", mitigation="AML.M0003")


def _query_evasion(attacks: dict[str, Any], budget: "AdversarialPolicy", features: int) -> CheckOutcome:
    m = _metrics(attacks, "hopskipjump")
    b = budget.hopskipjump
    bound = b.l2_bound or budget.evasion.gate_eps * float(np.sqrt(features))
    within = [d is not None and d <= bound for d in m["evaded_l2"]]
    rate = float(np.mean(within)) if within else 0.0
    ok = rate <= b.max_success_rate
    return CheckOutcome("query_evasion", ok, round(rate, 4), b.max_success_rate,
                        "adversarial.hopskipjump.max_success_rate", MODEL_DEPLOYMENT, "AML.T0015",
                        f"HopSkipJump evaded {rate:.0%} of {m['samples']} rows within L2 {bound:.3g} "
                        f"(evaded at any size {m['success_rate']:.0%}, median L2 {m['median_l2']}, "
                        f"{m['queries_per_row']:.0f} queries/row); {'<=' if ok else '>'} {b.max_success_rate:.0%} allowed",
                        mitigation="AML.M0004")


def _membership(attacks: dict[str, Any], budget: "AdversarialPolicy", features: int) -> CheckOutcome:
    m = _metrics(attacks, "membership")
    threshold = budget.membership.max_advantage
    adv = m["advantage"]
    ok = adv <= threshold
    lo, hi = m["advantage_ci95"]
    return CheckOutcome("membership_inference", ok, round(adv, 4), threshold,
                        "adversarial.membership.max_advantage", MODEL_TRAINING, "AML.T0024.000",
                        f"black-box membership attack advantage (TPR-FPR) {adv:.3f} [95% CI {lo:.3f}..{hi:.3f}], "
                        f"AUC {m['auc']:.3f} on {m['members']}+{m['non_members']} rows; "
                        f"{'<=' if ok else '>'} {threshold}", mitigation="AML.M0002")


def _inversion(attacks: dict[str, Any], budget: "AdversarialPolicy", features: int) -> CheckOutcome:
    m = _metrics(attacks, "miface")
    threshold = budget.inversion.max_similarity
    sim = m["mean_similarity"]
    ok = sim <= threshold
    return CheckOutcome("model_inversion", ok, round(sim, 4), threshold, "adversarial.inversion.max_similarity",
                        MODEL_DEPLOYMENT, "AML.T0024.001",
                        f"MIFace reconstructions have mean cosine {sim:.3f} to their class means "
                        f"({m['identified']}/{m['classes']} closest to their own class); "
                        f"{'<=' if ok else '>'} {threshold}", mitigation="AML.M0004")


def _extraction(attacks: dict[str, Any], budget: "AdversarialPolicy", features: int) -> CheckOutcome:
    m = _metrics(attacks, "copycat")
    b = budget.extraction
    agreement = m["agreement"].get(str(b.gate_queries))
    if agreement is None:
        raise EvidenceError(f"extraction evidence has no agreement at {b.gate_queries} queries "
                            f"(has {sorted(m['agreement'])}): re-run adversarial_evaluation with this policy")
    ok = agreement <= b.max_agreement
    return CheckOutcome("model_extraction", ok, round(agreement, 4), b.max_agreement,
                        "adversarial.extraction.max_agreement", MODEL_DEPLOYMENT, "AML.T0024.002",
                        f"a copy trained on {b.gate_queries} victim answers agrees with it on {agreement:.1%} of "
                        f"held-out rows; {'<=' if ok else '>'} {b.max_agreement:.1%}", mitigation="AML.M0004")


def _corruptions(attacks: dict[str, Any], budget: "AdversarialPolicy", features: int) -> CheckOutcome:
    m = _metrics(attacks, "corruptions")
    threshold = budget.corruptions.min_accuracy
    worst_kind = min(m["accuracy"], key=m["accuracy"].get)
    worst = m["accuracy"][worst_kind]
    ok = worst >= threshold
    return CheckOutcome("corruption_robustness", ok, round(worst, 4), threshold,
                        "adversarial.corruptions.min_accuracy", MODEL_TRAINING, "AML.T0015",
                        f"worst accuracy under common corruptions is {worst:.3f} ({worst_kind}; clean "
                        f"{m['clean_accuracy']:.3f}); {'>=' if ok else '<'} {threshold}")


GATES: tuple[Gate, ...] = (
    Gate("robust_accuracy", "Accuracy under white-box FGSM/PGD at the policy's eps meets the minimum.",
         ("fgsm", "pgd"), _robust_accuracy),
    Gate("query_evasion", "HopSkipJump (query-only) evades no more rows within the L2 bound than allowed.",
         ("hopskipjump",), _query_evasion),
    Gate("membership_inference", "Black-box membership inference advantage stays under the policy maximum.",
         ("membership",), _membership),
    Gate("model_inversion", "MIFace reconstructions stay below the similarity maximum.", ("miface",), _inversion),
    Gate("model_extraction", "A copycat trained on the query budget agrees less than the maximum.",
         ("copycat",), _extraction),
    Gate("corruption_robustness", "Accuracy under common corruptions meets the minimum.",
         ("corruptions",), _corruptions),
)


def gates_for(attacks: tuple[str, ...] | list[str]) -> tuple[Gate, ...]:
    """The gates that read at least one of `attacks` (what a pipeline that runs them must check)."""
    return tuple(g for g in GATES if set(g.attacks) & set(attacks))


def evaluate_gate(check: str, evidence: dict[str, Any], budget: "AdversarialPolicy") -> CheckOutcome:
    """One gate over an evidence dict (`AdversarialReport.to_dict()`); missing results raise EvidenceError."""
    for gate in GATES:
        if gate.check == check:
            return gate.decide(evidence.get("attacks", {}), budget, _features(evidence))
    raise KeyError(f"no adversarial gate '{check}' (known: {', '.join(g.check for g in GATES)})")


def evaluate_adversarial(evidence: dict[str, Any], budget: "AdversarialPolicy") -> list[CheckOutcome]:
    """Every gate whose attacks appear in the evidence, evaluated against the policy."""
    ran = list(evidence.get("attacks", {}))
    return [gate.decide(evidence["attacks"], budget, _features(evidence)) for gate in gates_for(ran)]


def _features(evidence: dict[str, Any]) -> int:
    return int(evidence.get("data", {}).get("features", 0))
