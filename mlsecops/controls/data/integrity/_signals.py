"""The four per-row signals behind the poisoning screen (private; see `poisoning.py`).

Every signal is computed on features standardized with the trusted slice's statistics and is
calibrated against rows of the trusted slice itself, so a threshold means "rarer than this
fraction of trusted rows", whatever the dataset.

- harm      RONI: how much adding the row to the trusted training set raises the trusted
            validation loss. The retrain is estimated with one Newton step from a multinomial
            logistic regression fit on the trusted rows (an influence function), cross-fitted
            over folds of the trusted slice; the same estimate for held-out trusted rows is the
            calibration set.
- label     label consistency: probability of the stated label under the trusted models, and
            the share of the row's nearest candidate neighbours that carry the same label.
- spectral  representation space: the squared projection of the row's deviation from its stated
            class's trusted mean onto the top singular vector of its class's deviations
            (spectral signatures, Tran et al. 2018), in units of the trusted rows' projections.
- novelty   distance to the k-th nearest trusted row, in units of the same distance among
            trusted rows: large means rare. Rare alone is not poison (a black swan).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import NearestNeighbors


@dataclass(frozen=True)
class Signals:
    harm: np.ndarray            # raw estimated rise of mean validation loss per added row
    harm_quantile: np.ndarray   # share of trusted calibration rows with lower harm (0..1)
    p_label: np.ndarray         # trusted models' probability of the stated label
    knn_agree: np.ndarray       # share of nearest candidate neighbours with the same label
    spectral: np.ndarray        # spectral score / trusted median spectral score
    novelty: np.ndarray         # k-th trusted neighbour distance / trusted median of the same
    spectral_ref_q: float       # the calibrated spectral cut (trusted quantile, same units)
    novelty_ref_q: float        # the calibrated novelty cut (trusted quantile, same units)


def standardize(reference: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Centre and scale by the trusted slice; constant columns get a floor, not a zero division."""
    mean = reference.mean(axis=0)
    std = reference.std(axis=0)
    floor = max(0.1 * float(np.median(std)), 1e-6)
    std = np.maximum(std, floor)
    return tuple((a - mean) / std for a in (reference, *others))


class _Softmax:
    """A fitted multinomial logistic regression as a (classes x features+1) weight matrix."""

    def __init__(self, z: np.ndarray, y: np.ndarray, classes: np.ndarray, c_reg: float) -> None:
        model = LogisticRegression(C=c_reg, max_iter=1000).fit(z, y)
        weights, bias = model.coef_, model.intercept_
        if len(classes) == 2:  # sklearn's binary form -> two-class softmax with the same sigmoid
            weights = np.vstack([-weights / 2, weights / 2])
            bias = np.array([-bias[0] / 2, bias[0] / 2])
        self.classes = classes
        self.w = np.hstack([weights, bias[:, None]])
        self.c_reg = c_reg
        self.n_fit = len(z)
        self._z = z

    @staticmethod
    def augment(z: np.ndarray) -> np.ndarray:
        return np.hstack([z, np.ones((len(z), 1))])

    def proba(self, z: np.ndarray) -> np.ndarray:
        logits = self.augment(z) @ self.w.T
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def onehot(self, y: np.ndarray) -> np.ndarray:
        return (y[:, None] == self.classes[None, :]).astype(float)

    def harm(self, z_val: np.ndarray, y_val: np.ndarray, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Influence of up-weighting each (z, y) on the mean validation loss, scaled per added row."""
        x = self.augment(self._z)
        n, d = x.shape
        k = len(self.classes)
        p = self.proba(self._z)
        a = np.einsum("ic,ce->ice", p, np.eye(k)) - np.einsum("ic,ie->ice", p, p)
        hessian = np.einsum("ice,id,if->cdef", a, x, x, optimize=True).reshape(k * d, k * d) / n
        hessian += (1.0 / (self.c_reg * n) + 1e-6) * np.eye(k * d)
        xv = self.augment(z_val)
        g_val = ((self.proba(z_val) - self.onehot(y_val)).T @ xv / len(xv)).reshape(-1)
        v = scipy.linalg.solve(hessian, g_val, assume_a="pos").reshape(k, d)
        g = self.proba(z) - self.onehot(y)
        return -np.einsum("ik,kd,id->i", g, v, self.augment(z)) / n


def compute_signals(z_ref: np.ndarray, y_ref: np.ndarray, z: np.ndarray, y: np.ndarray, *,
                    folds: int, c_reg: float, c_label: float, neighbours: int, seed: int,
                    calibration_quantile: float, rare_quantile: float) -> Signals:
    classes = np.unique(y_ref)
    n_folds = max(3, min(folds, int(np.bincount(np.searchsorted(classes, y_ref)).min())))
    split = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold_of = np.empty(len(y_ref), dtype=int)
    for i, (_, held) in enumerate(split.split(z_ref, y_ref)):
        fold_of[held] = i

    harm = np.zeros(len(z))
    calib: list[np.ndarray] = []
    for val in range(n_folds):
        # Candidates: fit on every fold but `val`, validate on `val`.
        fit = fold_of != val
        model = _Softmax(z_ref[fit], y_ref[fit], classes, c_reg)
        harm += model.harm(z_ref[~fit], y_ref[~fit], z, y) * model.n_fit
        # Calibration: trusted rows of another fold play the candidates, never seen by the fit.
        held = (val + 1) % n_folds
        fit_c = (fold_of != val) & (fold_of != held)
        model_c = _Softmax(z_ref[fit_c], y_ref[fit_c], classes, c_reg)
        calib.append(model_c.harm(z_ref[fold_of == val], y_ref[fold_of == val],
                                  z_ref[fold_of == held], y_ref[fold_of == held]) * model_c.n_fit)
    harm /= n_folds
    # Label consistency uses a less regularized model than the influence estimate: it should be
    # confident where the trusted rows are clear, not smooth.
    label_model = _Softmax(z_ref, y_ref, classes, c_label)
    p_label = (label_model.proba(z) * label_model.onehot(y)).sum(axis=1)
    calib_sorted = np.sort(np.concatenate(calib))
    harm_quantile = np.searchsorted(calib_sorted, harm, side="left") / len(calib_sorted)

    knn_agree = _knn_agreement(z, y, neighbours)
    spectral, spectral_q = _spectral(z_ref, y_ref, z, y, classes, calibration_quantile)
    novelty, novelty_q = _novelty(z_ref, z, max(1, neighbours // 2), rare_quantile)
    return Signals(harm / len(z_ref), harm_quantile, p_label, knn_agree, spectral, novelty,
                   spectral_q, novelty_q)


def _knn_agreement(z: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(z) - 1)
    if k < 1:
        return np.ones(len(z))
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(z).kneighbors(z)
    return (y[idx[:, 1:]] == y[:, None]).mean(axis=1)


def _spectral(z_ref: np.ndarray, y_ref: np.ndarray, z: np.ndarray, y: np.ndarray,
              classes: np.ndarray, quantile: float) -> tuple[np.ndarray, float]:
    score = np.zeros(len(z))
    ref_scores: list[np.ndarray] = []
    for c in classes:
        ref_c = z_ref[y_ref == c]
        centre = ref_c.mean(axis=0)
        rows = np.flatnonzero(y == c)
        if len(rows) < 2:
            continue
        dev = z[rows] - centre
        # Top right-singular vector of the candidates' deviations: where a planted sub-population
        # (a trigger, a flipped source class) pulls the class away from its trusted centre.
        _, _, vt = np.linalg.svd(dev, full_matrices=False)
        top = vt[0]
        proj_ref = ((ref_c - centre) @ top) ** 2
        unit = max(float(np.median(proj_ref)), 1e-12)
        score[rows] = (dev @ top) ** 2 / unit
        ref_scores.append(proj_ref / unit)
    ref_all = np.concatenate(ref_scores) if ref_scores else np.ones(1)
    return score, float(np.quantile(ref_all, quantile))


def _novelty(z_ref: np.ndarray, z: np.ndarray, k: int, quantile: float) -> tuple[np.ndarray, float]:
    k = max(1, min(k, len(z_ref) - 1))
    nn = NearestNeighbors(n_neighbors=k + 1).fit(z_ref)
    ref_dist = nn.kneighbors(z_ref)[0][:, k]          # leave-one-out: column 0 is the row itself
    dist = nn.kneighbors(z, n_neighbors=k)[0][:, k - 1]
    unit = max(float(np.median(ref_dist)), 1e-12)
    return dist / unit, float(np.quantile(ref_dist / unit, quantile))
