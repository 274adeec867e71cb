"""Figures for the adversarial evaluation (matplotlib object API on the Agg backend; no pyplot state)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(width: float, height: float) -> "Figure":
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def robustness_figure(results: dict[str, Any]) -> dict[str, "Figure"]:
    """Accuracy vs eps for every result that has a curve (empty if none)."""
    curves = {name: r.curve for name, r in results.items() if r.curve}
    if not curves:
        return {}
    fig = _figure(5, 3.5)
    ax = fig.add_subplot()
    for name, curve in curves.items():
        eps = [0.0] + [float(e) for e in curve]
        acc = [results[name].metrics.get("clean_accuracy", np.nan)] + list(curve.values())
        ax.plot(eps, acc, marker="o", label=name.upper())
    ax.set_xlabel("eps (L-inf, share of feature range)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Robust accuracy")
    return {"robust_accuracy": fig}


def image_pairs(clean: np.ndarray, adv: np.ndarray, pred_clean: np.ndarray, pred_adv: np.ndarray,
                side: int, title: str, n: int = 10) -> "Figure":
    n = min(n, len(clean))
    fig = _figure(1.1 * n, 2.6)
    for i in range(n):
        for row, (img, pred) in enumerate(((clean[i], pred_clean[i]), (adv[i], pred_adv[i]))):
            ax = fig.add_subplot(2, n, row * n + i + 1)
            ax.imshow(img.reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(str(int(pred)), fontsize=8, color="black" if pred == pred_clean[i] else "red")
            ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return fig


def roc(fpr: np.ndarray, tpr: np.ndarray, auc: float, advantage: float) -> "Figure":
    fig = _figure(4, 4)
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"attack (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="chance")
    ax.set_xlabel("false positive rate (non-members called members)")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"Membership inference ROC, advantage {advantage:.3f}", fontsize=9)
    ax.legend(loc="lower right")
    return fig


def inversion(recon: np.ndarray, means: np.ndarray, similarity: np.ndarray, side: int) -> "Figure":
    k = len(recon)
    fig = _figure(1.1 * k, 2.6)
    for c in range(k):
        for row, img in enumerate((recon[c], means[c])):
            ax = fig.add_subplot(2, k, row * k + c + 1)
            ax.imshow(img.reshape(side, side), cmap="gray_r")
            ax.set_title(f"{c}: {similarity[c]:.2f}" if row == 0 else f"mean {c}", fontsize=7)
            ax.axis("off")
    fig.suptitle("MIFace reconstruction (top) vs class mean (bottom), cosine", fontsize=9)
    return fig


def agreement(agreement: dict[str, float], accuracy: dict[str, float], victim: float) -> "Figure":
    fig = _figure(5, 3.5)
    ax = fig.add_subplot()
    q = [int(k) for k in agreement]
    ax.plot(q, list(agreement.values()), marker="o", label="agreement with victim")
    ax.plot(q, list(accuracy.values()), marker="s", label="stolen model accuracy")
    ax.axhline(victim, ls="--", color="gray", label="victim accuracy")
    ax.set_xscale("log")
    ax.set_xlabel("victim queries")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right")
    ax.set_title("Model extraction (CopycatCNN)")
    return fig


def corruption_grid(clean: np.ndarray, corrupted: dict[str, np.ndarray], side: int, n: int = 6) -> "Figure":
    rows = 1 + len(corrupted)
    n = min(n, len(clean))
    fig = _figure(1.1 * n, 1.2 * rows)
    for r, (name, imgs) in enumerate([("clean", clean)] + list(corrupted.items())):
        for i in range(n):
            ax = fig.add_subplot(rows, n, r * n + i + 1)
            ax.imshow(imgs[i].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
            ax.axis("off")
            if i == 0:
                ax.set_title(name, fontsize=7, loc="left")
    return fig
