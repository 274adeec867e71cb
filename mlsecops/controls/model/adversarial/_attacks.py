"""The attacks the adversarial engine can run: one small class each, registered by name.

Every `run` receives the one ART estimator the engine built (`target.classifier`) and budgets
from the policy; it returns numbers only (JSON-able) plus optional figures described as data (`PlotSpec`).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from mlsecops.controls.model.adversarial.plots import PlotSpec
from mlsecops.controls.model.adversarial.engine import AttackData, AttackResult, Target, register

if TYPE_CHECKING:
    from mlsecops.controls.model.adversarial.policy import AdversarialPolicy

_BATCH = 512


def _rng(budget: "AdversarialPolicy", salt: int) -> np.random.Generator:
    return np.random.default_rng([budget.seed, salt])


def _evasion_rows(data: AttackData, budget: "AdversarialPolicy") -> tuple[np.ndarray, np.ndarray]:
    """The same seeded sample of held-out rows for every attack that uses `samples`."""
    n = min(budget.samples, len(data.x_test))
    idx = np.sort(_rng(budget, 1).permutation(len(data.x_test))[:n])
    return data.x_test[idx], data.y_test[idx]


def _accuracy(target: Target, x: np.ndarray, y: np.ndarray) -> float:
    return float((target.predict(x) == y).mean())


class _GradientEvasion:
    """White-box L-inf evasion at every eps of the policy: the robust-accuracy curve."""

    name = ""
    atlas = "AML.T0015"
    draws_curve = True

    def check_budget(self, budget: "AdversarialPolicy", data: AttackData) -> list[str]:
        return [] if len(data.x_test) else ["no held-out rows to attack"]

    def _attack(self, target: Target, eps: float, budget: "AdversarialPolicy") -> Any:
        raise NotImplementedError

    def run(self, target: Target, data: AttackData, budget: "AdversarialPolicy") -> AttackResult:
        x, y = _evasion_rows(data, budget)
        clean = _accuracy(target, x, y)
        curve, shown = {}, None
        for eps in budget.evasion.eps:
            x_adv = self._attack(target, eps, budget).generate(x=x)
            curve[str(eps)] = _accuracy(target, x_adv, y)
            if eps == budget.evasion.gate_eps:
                shown = x_adv
        metrics = {"clean_accuracy": clean, "samples": int(len(x)), "norm": "inf",
                   "robust_accuracy": dict(curve), "gate_eps": budget.evasion.gate_eps}
        figures = {}
        if data.image_side and shown is not None:
            pred_clean, pred_adv = target.predict(x), target.predict(shown)
            order = np.argsort(pred_adv == pred_clean, kind="stable")[:10]  # evaded rows first
            figures[f"{self.name}_examples"] = PlotSpec.of(
                "image_pairs", clean=x[order], adv=shown[order], pred_clean=pred_clean[order],
                pred_adv=pred_adv[order], side=data.image_side,
                title=f"{self.name.upper()} at eps {budget.evasion.gate_eps}: clean (top) / adversarial (bottom)")
        return AttackResult(self.name, self.atlas, metrics, curve=curve, figures=figures)


@register
class FGSM(_GradientEvasion):
    name = "fgsm"

    def _attack(self, target: Target, eps: float, budget: "AdversarialPolicy") -> Any:
        from art.attacks.evasion import FastGradientMethod

        return FastGradientMethod(target.classifier, norm=np.inf, eps=eps, batch_size=_BATCH)


@register
class PGD(_GradientEvasion):
    name = "pgd"

    def _attack(self, target: Target, eps: float, budget: "AdversarialPolicy") -> Any:
        from art.attacks.evasion import ProjectedGradientDescent

        return ProjectedGradientDescent(target.classifier, norm=np.inf, eps=eps, eps_step=eps / 4,
                                        max_iter=budget.evasion.pgd_max_iter, num_random_init=0,
                                        batch_size=_BATCH, verbose=False)


@register
class HopSkipJumpAttack:
    """Query-only (decision-based) L2 evasion on correctly classified held-out rows."""

    name = "hopskipjump"
    atlas = "AML.T0015"

    def check_budget(self, budget: "AdversarialPolicy", data: AttackData) -> list[str]:
        b = budget.hopskipjump
        problems = []
        if b.init_eval > b.max_eval:
            problems.append(f"adversarial.hopskipjump.init_eval ({b.init_eval}) exceeds max_eval ({b.max_eval})")
        if b.samples > len(data.x_test):
            problems.append(f"adversarial.hopskipjump.samples ({b.samples}) exceeds the {len(data.x_test)} "
                            f"held-out rows")
        return problems

    def run(self, target: Target, data: AttackData, budget: "AdversarialPolicy") -> AttackResult:
        from art.attacks.evasion import HopSkipJump

        b = budget.hopskipjump
        x, y = _evasion_rows(data, budget)
        correct = np.flatnonzero(target.predict(x) == y)[: b.samples]
        x, y = x[correct], y[correct]
        q0 = target.queries
        attack = HopSkipJump(target.classifier, targeted=False, norm=2, max_iter=b.max_iter, max_eval=b.max_eval,
                             init_eval=b.init_eval, init_size=100, batch_size=_BATCH, verbose=False)
        starts = _misclassified_starts(target, x, y, _rng(budget, 4), tries=100)
        x_adv = attack.generate(x=x, x_adv_init=starts).astype(np.float32)
        queries = target.queries - q0
        evaded = target.predict(x_adv) != y
        l2 = np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1)
        bound = b.l2_bound or budget.evasion.gate_eps * float(np.sqrt(data.features))
        bounded = evaded & (l2 <= bound)  # recorded for reading; the gate recomputes it from evaded_l2
        metrics = {"samples": int(len(x)), "success_rate": float(evaded.mean()) if len(x) else 0.0,
                   "bounded_success_rate": float(bounded.mean()) if len(x) else 0.0, "l2_bound": round(bound, 4),
                   "median_l2": round(float(np.median(l2[evaded])), 4) if evaded.any() else None,
                   "evaded_l2": [round(float(d), 5) if e else None for d, e in zip(l2, evaded)],
                   "queries": int(queries), "queries_per_row": queries / max(len(x), 1)}
        return AttackResult(self.name, self.atlas, metrics, queries=int(queries))


def _misclassified_starts(target: Target, x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                          tries: int) -> np.ndarray:
    """A seeded uniform-noise row the model does not label `y`, per row (the row itself where none is found).

    HopSkipJump's own search for a starting point draws from an unseeded `np.random.RandomState()`,
    which made its numbers differ from run to run; this is the same search (one draw per unsolved row
    per round, up to `tries` rounds), seeded by the policy.
    """
    starts = x.copy()
    todo = np.arange(len(x))
    for _ in range(tries):
        if not len(todo):
            break
        draw = rng.uniform(0.0, 1.0, size=(len(todo), x.shape[1])).astype(np.float32)
        hit = target.predict(draw) != y[todo]
        starts[todo[hit]] = draw[hit]
        todo = todo[~hit]
    return starts


@register
class MembershipInference:
    """ART's black-box membership attack (model outputs + label -> member?), cross-fitted on two folds."""

    name = "membership"
    atlas = "AML.T0024.000"

    def check_budget(self, budget: "AdversarialPolicy", data: AttackData) -> list[str]:
        n = min(len(data.x_train), len(data.x_test), budget.membership.max_rows)
        return [] if n >= 20 else [f"membership inference needs >= 20 members and non-members, has {n}"]

    def run(self, target: Target, data: AttackData, budget: "AdversarialPolicy") -> AttackResult:
        from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
        from sklearn.metrics import roc_curve

        b = budget.membership
        rng = _rng(budget, 2)
        n = min(len(data.x_train), len(data.x_test), b.max_rows)
        mem = rng.permutation(len(data.x_train))[:n]
        non = rng.permutation(len(data.x_test))[:n]
        xm, ym, xn, yn = data.x_train[mem], data.y_train[mem], data.x_test[non], data.y_test[non]
        fold = np.arange(n) % 2
        score_m, score_n = np.zeros(n), np.zeros(n)
        for k in (0, 1):
            fit, held = fold == k, fold != k
            attack = MembershipInferenceBlackBox(target.classifier, input_type="prediction", attack_model_type=b.attack_model)
            attack.fit(x=xm[fit], y=ym[fit], test_x=xn[fit], test_y=yn[fit])
            score_m[held] = attack.infer(xm[held], ym[held], probabilities=True).ravel()
            score_n[held] = attack.infer(xn[held], yn[held], probabilities=True).ravel()
        truth = np.r_[np.ones(n), np.zeros(n)]
        scores = np.r_[score_m, score_n]
        advantage = float((score_m > 0.5).mean() - (score_n > 0.5).mean())
        auc = _auc(score_m, score_n)
        boot_adv, boot_auc = _bootstrap(score_m, score_n, b.bootstrap, rng)
        fpr, tpr, _ = roc_curve(truth, scores)
        metrics = {"members": int(n), "non_members": int(n), "attack_model": b.attack_model,
                   "advantage": advantage, "advantage_ci95": [float(np.percentile(boot_adv, 2.5)),
                                                              float(np.percentile(boot_adv, 97.5))],
                   "auc": auc, "auc_ci95": [float(np.percentile(boot_auc, 2.5)), float(np.percentile(boot_auc, 97.5))],
                   "tpr": float((score_m > 0.5).mean()), "fpr": float((score_n > 0.5).mean())}
        figures = {"membership_roc": PlotSpec.of("roc", fpr=fpr, tpr=tpr, auc=auc, advantage=advantage)}
        return AttackResult(self.name, self.atlas, metrics, figures=figures)


def _bootstrap(score_m: np.ndarray, score_n: np.ndarray, rounds: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Advantage and AUC of `rounds` resamples (members and non-members drawn independently).

    A resample is a count per row, so its AUC is `w_m . M . w_n / n^2` with M the pairwise
    member-beats-non-member matrix (ties count half): one matrix product for all rounds.
    """
    n = len(score_m)
    draws = [(rng.integers(0, n, n), rng.integers(0, n, n)) for _ in range(rounds)]
    w_m = np.stack([np.bincount(im, minlength=n) for im, _ in draws]).astype(np.float64)
    w_n = np.stack([np.bincount(inn, minlength=n) for _, inn in draws]).astype(np.float64)
    beats = (score_m[:, None] > score_n[None, :]) + 0.5 * (score_m[:, None] == score_n[None, :])
    auc = ((w_m @ beats) * w_n).sum(1) / (n * n)
    advantage = (w_m @ (score_m > 0.5) - w_n @ (score_n > 0.5)) / n
    return advantage, auc


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.r_[pos, neg])
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


@register
class ModelInversion:
    """ART's MIFace: one gradient-ascent reconstruction per class, compared with the class means."""

    name = "miface"
    atlas = "AML.T0024.001"

    def check_budget(self, budget: "AdversarialPolicy", data: AttackData) -> list[str]:
        missing = sorted(set(range(data.classes)) - set(data.y_train.tolist()))
        return [f"model inversion needs training rows of every class, missing {missing}"] if missing else []

    def run(self, target: Target, data: AttackData, budget: "AdversarialPolicy") -> AttackResult:
        from art.attacks.inference.model_inversion import MIFace

        b = budget.inversion
        classes = np.arange(data.classes)
        attack = MIFace(target.classifier, max_iter=b.max_iter, window_length=min(50, b.max_iter),
                        threshold=0.99, learning_rate=b.learning_rate, batch_size=data.classes, verbose=False)
        recon = attack.infer(np.zeros((data.classes, data.features), dtype=np.float32), y=classes).astype(np.float32)
        means = np.stack([data.x_train[data.y_train == c].mean(0) for c in classes])
        norms = np.linalg.norm(recon, axis=1)[:, None] * np.linalg.norm(means, axis=1)[None, :]
        cosine = (recon @ means.T) / np.maximum(norms, 1e-12)
        own = np.diag(cosine)
        identified = int((cosine.argmax(1) == classes).sum())
        metrics = {"classes": int(data.classes), "mean_similarity": float(own.mean()),
                   "similarity": [round(float(v), 4) for v in own], "identified": identified,
                   "predicted_as_target": int((target.predict(recon) == classes).sum())}
        figures = {}
        if data.image_side:
            figures["miface_reconstructions"] = PlotSpec.of("inversion", recon=recon, means=means, similarity=own,
                                                            side=data.image_side)
        return AttackResult(self.name, self.atlas, metrics, figures=figures)


@register
class CopycatExtraction:
    """ART's CopycatCNN: train a fresh copy of the architecture on the victim's answers, per query budget."""

    name = "copycat"
    atlas = "AML.T0024.002"

    def check_budget(self, budget: "AdversarialPolicy", data: AttackData) -> list[str]:
        too_big = [q for q in budget.extraction.queries if q > len(data.x_train)]
        return [f"adversarial.extraction.queries {too_big} exceed the attacker's pool of {len(data.x_train)} "
                f"rows"] if too_big else []

    def run(self, target: Target, data: AttackData, budget: "AdversarialPolicy") -> AttackResult:
        import torch
        from art.attacks.extraction import CopycatCNN
        from art.estimators.classification import PyTorchClassifier

        b = budget.extraction
        victim = target.predict(data.x_test)
        agreement, accuracy, spent = {}, {}, 0
        for queries in sorted(b.queries):
            np.random.seed(budget.seed + queries)  # ART draws the stolen rows from numpy's global generator
            torch.manual_seed(budget.seed + queries)
            thief = _fresh_copy(target.module)
            thieved = PyTorchClassifier(model=thief, loss=torch.nn.CrossEntropyLoss(),
                                        optimizer=torch.optim.Adam(thief.parameters(), lr=0.01),
                                        input_shape=(data.features,), nb_classes=data.classes,
                                        clip_values=(0.0, 1.0), device_type="cpu")
            q0 = target.queries
            attack = CopycatCNN(target.classifier, batch_size_fit=32, batch_size_query=_BATCH,
                                nb_epochs=b.epochs, nb_stolen=queries, use_probability=False)
            stolen = attack.extract(x=data.x_train, thieved_classifier=thieved)
            spent += target.queries - q0
            pred = stolen.predict(data.x_test, batch_size=_BATCH).argmax(1)
            agreement[str(queries)] = float((pred == victim).mean())
            accuracy[str(queries)] = float((pred == data.y_test).mean())
        metrics = {"agreement": agreement, "stolen_accuracy": accuracy, "victim_accuracy": float((victim == data.y_test).mean()),
                   "gate_queries": b.gate_queries, "evaluated_on": int(len(data.x_test))}
        figures = {"extraction_agreement": PlotSpec.of("agreement", agreement=agreement, accuracy=accuracy,
                                                       victim=metrics["victim_accuracy"])}
        return AttackResult(self.name, self.atlas, metrics, queries=int(spent), figures=figures)


def _fresh_copy(module: Any) -> Any:
    """Same architecture and input scaling, freshly initialised weights (the attacker knows the design)."""
    thief = copy.deepcopy(module)
    for layer in thief.modules():
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    thief.rows_seen = 0
    return thief.train()


# -- common corruptions: a few lines of numpy/scipy, sized for 8x8 images and tables alike -------
def _gaussian_noise(x: np.ndarray, s: float, rng: np.random.Generator, side: int | None) -> np.ndarray:
    return x + rng.normal(0.0, s, x.shape)


def _gaussian_blur(x: np.ndarray, s: float, rng: np.random.Generator, side: int | None) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    if not side:
        raise ValueError("gaussian_blur applies to images only")
    imgs = x.reshape(-1, side, side)
    return np.stack([gaussian_filter(img, sigma=s, mode="constant") for img in imgs]).reshape(x.shape)


def _contrast(x: np.ndarray, s: float, rng: np.random.Generator, side: int | None) -> np.ndarray:
    mean = x.mean(axis=1, keepdims=True)
    return mean + (1.0 - s) * (x - mean)


def _dropout(x: np.ndarray, s: float, rng: np.random.Generator, side: int | None) -> np.ndarray:
    return np.where(rng.random(x.shape) < s, 0.0, x)


CORRUPTIONS = {"gaussian_noise": _gaussian_noise, "gaussian_blur": _gaussian_blur, "contrast": _contrast,
               "dropout": _dropout}


@register
class CommonCorruptions:
    """Accuracy under natural corruptions (noise, blur, contrast loss, dropped pixels) at policy strengths."""

    name = "corruptions"
    atlas = "AML.T0015"

    def check_budget(self, budget: "AdversarialPolicy", data: AttackData) -> list[str]:
        problems = []
        for kind, strength in budget.corruptions.kinds.items():
            if kind not in CORRUPTIONS:
                problems.append(f"adversarial.corruptions.kinds.{kind}: unknown (known: {', '.join(CORRUPTIONS)})")
            elif kind == "gaussian_blur" and not data.image_side:
                problems.append("adversarial.corruptions.kinds.gaussian_blur applies to images only")
            elif not 0 <= strength <= (10 if kind == "gaussian_blur" else 1):
                problems.append(f"adversarial.corruptions.kinds.{kind}: strength {strength} out of range")
        return problems

    def run(self, target: Target, data: AttackData, budget: "AdversarialPolicy") -> AttackResult:
        x, y = _evasion_rows(data, budget)
        rng = _rng(budget, 3)
        accuracy, samples = {}, {}
        for kind, strength in budget.corruptions.kinds.items():
            xc = np.clip(CORRUPTIONS[kind](x, strength, rng, data.image_side), 0.0, 1.0).astype(np.float32)
            accuracy[kind] = _accuracy(target, xc, y)
            samples[kind] = xc
        metrics = {"clean_accuracy": _accuracy(target, x, y), "accuracy": accuracy, "samples": int(len(x)),
                   "strengths": dict(budget.corruptions.kinds)}
        figures = {}
        if data.image_side:
            figures["corruption_examples"] = PlotSpec.of("corruption_grid", clean=x[:6], side=data.image_side,
                                                         corrupted={k: v[:6] for k, v in samples.items()})
        return AttackResult(self.name, self.atlas, metrics, figures=figures)
