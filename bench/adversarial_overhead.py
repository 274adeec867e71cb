"""Overhead of the adversarial engine (budget checks, wrapping, metrics, bootstrap, plots) over the
same ART calls made directly, on the reference `patients` model with the packaged policy's budgets.
Both sides run on the same single CPU with one torch and one BLAS thread: the engine's forked plot
renderer shares that CPU (it does not get a second core the direct calls lack).

    python bench/adversarial_overhead.py        # last line: `ratio: X` (baseline time / our time)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fair import pin, torch_threads  # noqa: E402

# Equal footing: both sides on one CPU and one thread per pool. The engine forks a plot renderer;
# it inherits the affinity, so it shares that CPU with the attacks instead of drawing on a second one.
CPUS = pin(1)

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

from mlsecops.controls.model.adversarial.engine import evaluate_model, prepare_data  # noqa: E402
from mlsecops.models.training import train_classifier, train_config  # noqa: E402
from mlsecops.stages.adversarial_evaluation import TABULAR_ATTACKS  # noqa: E402
from mlsecops.pipelines.patients import PATIENTS, make_frame  # noqa: E402
from mlsecops.policy import load_policy  # noqa: E402

ROUNDS = 7


def baseline(net, data, b) -> None:
    """FGSM, PGD, HopSkipJump, membership inference and CopycatCNN called directly on one ART wrapper."""
    from art.attacks.evasion import FastGradientMethod, HopSkipJump, ProjectedGradientDescent
    from art.attacks.extraction import CopycatCNN
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
    from art.estimators.classification import PyTorchClassifier

    lower, span = torch.as_tensor(data.lower), torch.as_tensor(data.span)

    class Unit(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.float() * span + lower)

    def wrap(module, optimizer=None):
        return PyTorchClassifier(module, loss=torch.nn.CrossEntropyLoss(), optimizer=optimizer,
                                 input_shape=(data.features,), nb_classes=data.classes, clip_values=(0.0, 1.0))

    clf = wrap(Unit(net).eval())
    rng = np.random.default_rng(0)
    idx = np.sort(rng.permutation(len(data.x_test))[: b.samples])
    x, y = data.x_test[idx], data.y_test[idx]
    for eps in b.evasion.eps:
        FastGradientMethod(clf, eps=eps, batch_size=512).generate(x)
        ProjectedGradientDescent(clf, eps=eps, eps_step=eps / 4, max_iter=b.evasion.pgd_max_iter,
                                 num_random_init=0, batch_size=512, verbose=False).generate(x)
    h = b.hopskipjump
    ok = np.flatnonzero(clf.predict(x).argmax(1) == y)[: h.samples]
    HopSkipJump(clf, targeted=False, norm=2, max_iter=h.max_iter, max_eval=h.max_eval, init_eval=h.init_eval,
                init_size=100, batch_size=512, verbose=False).generate(x[ok])
    n = min(len(data.x_train), len(data.x_test), b.membership.max_rows)
    xm, ym, xn, yn = data.x_train[:n], data.y_train[:n], data.x_test[:n], data.y_test[:n]
    half = np.arange(n) % 2 == 0
    for fit in (half, ~half):
        mia = MembershipInferenceBlackBox(clf, input_type="prediction", attack_model_type=b.membership.attack_model)
        mia.fit(xm[fit], ym[fit], xn[fit], yn[fit])
        mia.infer(xm[~fit], ym[~fit], probabilities=True)
        mia.infer(xn[~fit], yn[~fit], probabilities=True)
    for q in b.extraction.queries:
        thief = Unit(type(net)(**{"in_features": data.features, "classes": data.classes,
                                  **{k: v for k, v in PATIENTS.net.items() if k != "architecture"}}))
        thief.inner.scale.load_state_dict(net.scale.state_dict())
        stolen = CopycatCNN(clf, batch_size_fit=32, batch_size_query=512, nb_epochs=b.extraction.epochs,
                            nb_stolen=q, use_probability=False).extract(
            data.x_train, thieved_classifier=wrap(thief, torch.optim.Adam(thief.parameters(), lr=0.01)))
        stolen.predict(data.x_test)


def main() -> None:
    torch_threads(1)  # the engine runs attacks on one thread; the direct calls get the same
    policy = load_policy().for_pipeline("patients")
    frame = make_frame()
    X = frame[PATIENTS.schema.features].to_numpy(np.float32)
    y = frame[PATIENTS.schema.label].to_numpy(np.int64)
    result = train_classifier(X, y, {**PATIENTS.net, "in_features": X.shape[1], "classes": 2},
                              train_config(policy.training))
    data = prepare_data(X, y, result.train_index, result.test_index)
    budget = policy.adversarial
    ours_t, base_t, bare_t = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        baseline(result.net, data, budget)  # warm-up of both sides: imports, first-call costs
        evaluate_model(result.net, data, TABULAR_ATTACKS, budget, Path(tmp) / "warm-up")
        for i in range(ROUNDS):  # alternate, so load on a shared machine hits both alike
            t0 = time.perf_counter()
            baseline(result.net, data, budget)
            base_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            evaluate_model(result.net, data, TABULAR_ATTACKS, budget, Path(tmp) / f"plots{i}")
            ours_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            evaluate_model(result.net, data, TABULAR_ATTACKS, budget)  # same, without writing plots
            bare_t.append(time.perf_counter() - t0)
    base, ours, bare = statistics.median(base_t), statistics.median(ours_t), statistics.median(bare_t)
    print(f"patients, attacks {', '.join(TABULAR_ATTACKS)}, policy budgets, median of {ROUNDS}; "
          f"both sides on CPU {','.join(map(str, CPUS))}, 1 torch thread, 1 BLAS thread (plot renderer included)")
    print(f"direct ART calls: {base:.2f} s   adversarial engine (+ metrics, bootstrap CI, 3 PNG plots): {ours:.2f} s")
    print("rounds (s): direct " + " ".join(f"{t:.2f}" for t in base_t) + " | engine " + " ".join(f"{t:.2f}" for t in ours_t))
    print(f"engine without plots: {bare:.2f} s (ratio {base / bare:.2f}); plots cost {ours - bare:.2f} s")
    print(f"ratio: {base / ours:.2f}")


if __name__ == "__main__":
    main()
