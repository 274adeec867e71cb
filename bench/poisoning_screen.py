"""Poisoning screen vs ART's RONIDefense on the same poisoned `patients` table (targeted flips, 5%).

Both get the same trusted slice (the pipeline's, 69 rows), the same candidates, the same CPU and one
BLAS thread, and a validation set of the same size: ours validates on the trusted slice (held-out
folds, every trusted row once), so ART's quiz set (by default 20% of the candidates: 100 of 500) is
sized to the trusted slice too (`pp_quiz`). ART's RONI refits a scikit-learn logistic regression once
per candidate (plus calibration); ours estimates every candidate's validation-loss impact at once
(influence functions) and adds label, neighbour and spectral signals. Alternating rounds (BENCH_ROUNDS,
default 1: one RONI pass takes ~15 min here), medians. Prints precision / recall / FPR and time of each, the digits screen time, then
`ratio: <ART seconds / our seconds>`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fair import pin  # noqa: E402

CPUS = pin(1)  # both sides: one CPU, one BLAS thread

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mlsecops.fuzzing.harness import inject  # noqa: E402
from mlsecops.controls.data.integrity.poisoning import screen_table  # noqa: E402
from mlsecops.pipelines import digits, patients  # noqa: E402
from mlsecops.stages.screened_data import reference_positions  # noqa: E402

# One RONI pass took 884 s on this 2-core machine (refit per candidate): one round by default.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))

ID = "row"


def data(module):
    frame = module.make_frame()
    features = module.SCHEMA.features
    ref_rows = reference_positions(frame["label"].to_numpy())
    reference = frame.iloc[ref_rows][[*features, "label"]].reset_index(drop=True)
    rest = frame.iloc[np.setdiff1d(np.arange(len(frame)), ref_rows)][[*features, "label"]].reset_index(drop=True)
    rest[ID] = np.arange(len(rest))
    return rest, reference, features


def scores(flagged: set, poisoned: set, n: int) -> str:
    tp = len(flagged & poisoned)
    precision = tp / len(flagged) if flagged else 0.0
    return (f"precision {precision:.3f}  recall {tp / len(poisoned):.3f}  "
            f"FPR {len(flagged - poisoned) / (n - len(poisoned)):.3f}  flagged {len(flagged)}")


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float((np.argmax(y_true, axis=1) == np.argmax(y_pred, axis=1)).mean())


def art_roni(frame, reference, features):
    from art.defences.detector.poison import RONIDefense
    from art.estimators.classification import SklearnClassifier

    scale_mean = reference[features].to_numpy().mean(0)
    scale_std = reference[features].to_numpy().std(0) + 1e-6
    x = ((frame[features].to_numpy() - scale_mean) / scale_std).astype(np.float32)   # ART on numpy 2: float32
    xv = ((reference[features].to_numpy() - scale_mean) / scale_std).astype(np.float32)
    onehot = np.eye(2, dtype=np.float32)
    clf = SklearnClassifier(LogisticRegression(max_iter=500))
    np.random.seed(0)
    # Validation (ART's quiz set) of the same size as ours: the trusted slice's row count.
    pp_quiz = (len(reference) + 0.5) / len(frame)
    defence = RONIDefense(clf, x, onehot[frame["label"].to_numpy()], xv, onehot[reference["label"].to_numpy()],
                          perf_func=_accuracy, calibrated=True,   # a string perf_func crashes on one-hot labels
                          pp_quiz=pp_quiz)
    assert len(defence.x_quiz) == len(reference), (len(defence.x_quiz), len(reference))
    _, is_clean = defence.detect_poison()
    return {int(i) for i, c in zip(frame[ID], is_clean) if c == 0}


def main() -> None:
    candidates, reference, features = data(patients)
    inj = inject(candidates, attack="targeted_flip", rate=0.05, features=features, label="label", id_column=ID,
                 seed=0, source=0, target=1)
    poisoned = set(inj.poisoned_ids)
    screen_table(inj.frame, reference, features=features, label="label", id_column=ID)   # warm-up (imports)

    ours_t, art_t = [], []
    for _ in range(ROUNDS):  # alternate, so load on a shared machine hits both alike
        started = time.perf_counter()
        art_flagged = art_roni(inj.frame, reference, features)
        art_t.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = screen_table(inj.frame, reference, features=features, label="label", id_column=ID)
        ours_t.append(time.perf_counter() - started)
    art, ours = statistics.median(art_t), statistics.median(ours_t)

    n = len(inj.frame)
    print(f"patients, targeted flips 0->1 at 5% ({len(poisoned)} of {n} rows), trusted slice {len(reference)} rows "
          f"(= validation rows of both), CPU {','.join(map(str, CPUS))}, 1 BLAS thread, median of {ROUNDS}")
    print(f"ART RONIDefense (LogisticRegression): {art:7.2f} s  {scores(art_flagged, poisoned, n)}")
    print(f"mlsecops screen_table:              {ours:7.2f} s  {scores(set(report.flagged_ids), poisoned, n)}")
    print("rounds (s): ART " + " ".join(f"{t:.2f}" for t in art_t) + " | ours " + " ".join(f"{t:.3f}" for t in ours_t))

    d_candidates, d_reference, d_features = data(digits)
    started = time.perf_counter()
    d_report = screen_table(d_candidates, d_reference, features=d_features, label="label", id_column=ID)
    print(f"digits clean screen: {len(d_candidates)} rows x 64 features, {time.perf_counter() - started:.2f} s, "
          f"flagged {d_report.flagged_fraction:.2%}")
    print(f"ratio: {art / ours:.2f}")


if __name__ == "__main__":
    main()
