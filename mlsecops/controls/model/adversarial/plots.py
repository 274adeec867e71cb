"""Figures for the adversarial evaluation (matplotlib object API on the Agg backend; no pyplot state).

    writer = PlotWriter(folder)      # forks one renderer that draws on the idle core
    writer.submit({"membership_roc": PlotSpec.of("roc", fpr=fpr, tpr=tpr, auc=auc, advantage=adv)})
    written = writer.finish()        # name -> {"path", "sha256"}; raises PlotError if any PNG failed

An attack describes a figure as data (`PlotSpec`: a kind below plus JSON-able arguments) rather than
drawing it: drawing one (text layout, PNG encoding) costs ~0.05 s, as much as a small attack. The
engine runs attacks on one torch thread, so `PlotWriter` forks a single renderer up front and sends
it each spec as JSON over a pipe as soon as an attack ends; the renderer draws while the next attack
runs. Where fork is unavailable (not Linux, inside a daemonic process such as a Dask worker, or
MLSECOPS_INLINE_PLOTS=1) the specs are drawn inline at `finish`: the same files, byte for byte.
Nothing is pickled; the renderer freezes the inherited heap so that its garbage collector does not
touch (and copy) the parent's pages.
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlsecops.core.errors import MlsecopsError
from mlsecops.core.fileio import atomic_path, sha256_file

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from matplotlib.figure import Figure

_DPI = 80
_RENDER_TIMEOUT = 120.0  # seconds the renderer may take after the last attack before it is replaced
_log = logging.getLogger(__name__)


class PlotError(MlsecopsError):
    """A plot could not be rendered or written."""


@dataclass(frozen=True)
class PlotSpec:
    """A figure as data: the drawing function's name in `KINDS` and its JSON-able keyword arguments."""

    kind: str
    args: dict[str, Any]

    @classmethod
    def of(cls, kind: str, **args: Any) -> "PlotSpec":
        if kind not in KINDS:
            raise PlotError(f"unknown plot kind '{kind}' (known: {', '.join(KINDS)})")
        return cls(kind, {k: _jsonable(v) for k, v in args.items()})

    def render(self) -> "Figure":
        return KINDS[self.kind](**{k: np.asarray(v) if isinstance(v, list) else v for k, v in self.args.items()})


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def save_specs(specs: dict[str, PlotSpec], folder: Path) -> None:
    """Draw each spec and write it to `folder/<name>.png` atomically (temp file, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, spec in specs.items():
        try:
            fig = spec.render()
        except Exception as exc:
            raise PlotError(f"plot '{name}' ({spec.kind}) could not be drawn: {type(exc).__name__}: {exc}") from exc
        with atomic_path(folder / f"{name}.png") as tmp:
            fig.savefig(tmp, format="png", dpi=_DPI)


def can_fork() -> bool:
    """Whether a renderer may be forked here: Linux, not inside a daemonic process, not opted out
    with MLSECOPS_INLINE_PLOTS=1."""
    return (sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon and os.environ.get("MLSECOPS_INLINE_PLOTS") != "1")


def _serve(inbox: "Connection", outbox: "Connection", folder: Path) -> None:
    """The forked renderer: draw every spec that arrives until the engine closes the pipe."""
    outbox.close()  # the parent's sending end, inherited by fork: closed here or EOF never comes
    gc.freeze()  # a collection would walk (and so copy-on-write) every object of the parent's heap
    while True:
        try:
            item = json.loads(inbox.recv_bytes())
        except EOFError:
            return
        save_specs({item["name"]: PlotSpec(item["kind"], item["args"])}, folder)


class PlotWriter:
    """Writes `PlotSpec`s as PNGs under `folder`, in one forked renderer or, where fork is unavailable, inline.

    If the renderer dies or hangs, every figure is drawn again inline at `finish` (with a warning), so
    a plot is missing only when it cannot be drawn at all, and then `PlotError` names it.
    """

    def __init__(self, folder: Path, parallel: bool | None = None) -> None:
        self.folder = Path(folder)
        self.specs: dict[str, PlotSpec] = {}
        self.inline: set[str] = set()
        self.renderer: multiprocessing.process.BaseProcess | None = None
        self.outbox: Connection | None = None
        if can_fork() if parallel is None else parallel:
            from matplotlib.backends import backend_agg  # noqa: F401  (imported once, before the fork)

            ctx = multiprocessing.get_context("fork")
            inbox, self.outbox = ctx.Pipe(duplex=False)
            self.renderer = ctx.Process(target=_serve, args=(inbox, self.outbox, self.folder),
                                        name="mlsecops-plots", daemon=True)
            self.renderer.start()
            inbox.close()

    def submit(self, specs: dict[str, PlotSpec]) -> None:
        """Hand figures to the renderer (drawn now, on another core) or keep them for `finish`."""
        for name, spec in specs.items():
            self.specs[name] = spec
            if self.outbox is None:
                self.inline.add(name)
                continue
            try:
                self.outbox.send_bytes(json.dumps({"name": name, "kind": spec.kind, "args": spec.args}).encode())
            except OSError:  # the renderer died (BrokenPipeError): `finish` draws everything again here
                self.inline.add(name)

    def close(self, timeout: float = _RENDER_TIMEOUT) -> str:
        """Let the renderer finish what it has and stop it; returns what went wrong there, or ''."""
        if self.renderer is None:
            return ""
        renderer, self.renderer = self.renderer, None
        self.outbox.close()
        renderer.join(timeout)
        if renderer.is_alive():
            renderer.kill()
            renderer.join()
            return f"the plot renderer did not finish within {timeout:g} s"
        return "" if renderer.exitcode == 0 else f"the plot renderer exited with code {renderer.exitcode}"

    def finish(self) -> dict[str, dict[str, str]]:
        """Wait for the renderer, draw what is left inline, return name -> {path, sha256} of every PNG."""
        forked = self.outbox is not None
        failure = self.close()
        if forked and (failure or self.inline):
            failure = failure or "the plot renderer stopped early"
            _log.warning("%s; drawing all %d adversarial plots here instead", failure, len(self.specs))
            self.inline = set(self.specs)  # its files may be partial or stale: draw every one again
        save_specs({name: self.specs[name] for name in self.specs if name in self.inline}, self.folder)
        written = {}
        for name in self.specs:
            path = self.folder / f"{name}.png"
            if not path.is_file():
                raise PlotError(f"adversarial plot '{name}' was not written to {path}")
            written[name] = {"path": str(path), "sha256": sha256_file(path)}
        return written


def _figure(width: float, height: float, grid: bool = False) -> "Figure":
    """A figure with fixed margins (inches): constrained layout would double the cost of drawing it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    if grid:  # image grid: titles above each tile, a suptitle on top, no axes
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.4 / height, wspace=0.1, hspace=0.4)
    else:  # one axes with tick labels, axis labels and a title
        fig.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, bottom=0.6 / height, top=1 - 0.35 / height)
    return fig


def robustness_spec(results: dict[str, Any]) -> dict[str, PlotSpec]:
    """The robust-accuracy plot over every result that has a curve (empty if none)."""
    curves = {name: r.curve for name, r in results.items() if r.curve}
    if not curves:
        return {}
    clean = {name: results[name].metrics.get("clean_accuracy") for name in curves}
    return {"robust_accuracy": PlotSpec.of("robustness", curves=curves, clean=clean)}


def robustness(curves: dict[str, dict[str, float]], clean: dict[str, float | None]) -> "Figure":
    fig = _figure(5, 3.5)
    ax = fig.add_subplot()
    for name, curve in curves.items():
        eps = [0.0] + [float(e) for e in curve]
        acc = [np.nan if clean[name] is None else clean[name]] + list(curve.values())
        ax.plot(eps, acc, marker="o", label=name.upper())
    ax.set_xlabel("eps (L-inf, share of feature range)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Robust accuracy")
    return fig


def image_pairs(clean: np.ndarray, adv: np.ndarray, pred_clean: np.ndarray, pred_adv: np.ndarray,
                side: int, title: str) -> "Figure":
    n = len(clean)
    fig = _figure(1.1 * n, 2.6, grid=True)
    for i in range(n):
        for row, (img, pred) in enumerate(((clean[i], pred_clean[i]), (adv[i], pred_adv[i]))):
            ax = fig.add_subplot(2, n, row * n + i + 1)
            ax.imshow(img.reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(str(int(pred)), fontsize=8, color="black" if pred == pred_clean[i] else "red")
            ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return fig


def roc(fpr: np.ndarray, tpr: np.ndarray, auc: float, advantage: float) -> "Figure":
    fig = _figure(4.4, 4)
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"attack (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="chance")
    ax.set_xlabel("FPR: non-members called members")
    ax.set_ylabel("TPR: members called members")
    ax.set_title(f"Membership inference ROC, advantage {advantage:.3f}", fontsize=9)
    ax.legend(loc="lower right")
    return fig


def inversion(recon: np.ndarray, means: np.ndarray, similarity: np.ndarray, side: int) -> "Figure":
    k = len(recon)
    fig = _figure(1.1 * k, 2.6, grid=True)
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
    ax.set_xticks(q, [str(v) for v in q])
    ax.minorticks_off()
    ax.set_xlabel("victim queries")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right")
    ax.set_title("Model extraction (CopycatCNN)")
    return fig


def corruption_grid(clean: np.ndarray, corrupted: dict[str, np.ndarray], side: int) -> "Figure":
    rows = 1 + len(corrupted)
    n = len(clean)
    fig = _figure(1.1 * n, 1.2 * rows, grid=True)
    for r, (name, imgs) in enumerate([("clean", clean)] + list(corrupted.items())):
        for i in range(n):
            ax = fig.add_subplot(rows, n, r * n + i + 1)
            ax.imshow(np.asarray(imgs[i]).reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
            ax.axis("off")
            if i == 0:
                ax.set_title(name, fontsize=7, loc="left")
    return fig


KINDS = {"robustness": robustness, "image_pairs": image_pairs, "roc": roc, "inversion": inversion,
         "agreement": agreement, "corruption_grid": corruption_grid}
