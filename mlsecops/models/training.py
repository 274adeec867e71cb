"""Train a classifier with a fixed seed and write it as a model folder (safetensors + JSON).

    result = train_classifier(X, y, net_config, TrainConfig(seed=7, epochs=60))
    save_model_folder(result.net, net_config, folder, extra={"features": [...]})
    # reading it back: mlsecops.models.loading.load_verified_model, the only model loader
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from torch import nn

from mlsecops.core.fileio import atomic_path, write_json_atomic
from mlsecops.models.nets import build_net

WEIGHTS = "model.safetensors"
CONFIG = "model.json"


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 7
    test_fraction: float = 0.25
    epochs: int = 60
    learning_rate: float = 0.01
    weight_decay: float = 1e-4
    batch_size: int = 64
    threads: int = 1  # torch intra-op threads while fitting; the weights' digest depends on it (0: torch's default)


def train_config(training: Any) -> TrainConfig:
    """The TrainConfig a policy's `training:` section describes (same field names)."""
    return TrainConfig(**{f.name: getattr(training, f.name) for f in fields(TrainConfig)})


@dataclass
class TrainResult:
    net: nn.Module
    metrics: dict[str, float]
    train_index: np.ndarray
    test_index: np.ndarray


def split_indices(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded train/test split of row positions."""
    idx = np.arange(len(y))
    return train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=y)


def fit(net: nn.Module, X: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> nn.Module:
    """Set the standardization buffers from X, then minibatch Adam for cfg.epochs on `cfg.threads` threads.

    Summation order in torch's kernels follows the thread count, so the same data, seed and thread
    count give the same weights bit for bit whatever machine or executor (embedded, Dask worker) runs.
    """
    previous = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _fit(net, X, y, cfg)
    finally:
        torch.set_num_threads(previous)


def _fit(net: nn.Module, X: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> nn.Module:
    torch.manual_seed(cfg.seed)
    xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    with torch.no_grad():
        if getattr(net, "shared_scale", False):  # images: one mean/std for every pixel
            mean, std = xt.mean().expand(xt.shape[1]), xt.std().expand(xt.shape[1])
        else:
            mean, std = xt.mean(0), xt.std(0)
        # Never divide by ~0: per-pixel std on digits' (nearly) blank border pixels made the CNN
        # hypersensitive to them (PGD at eps 0.02 of range: 0.13 accuracy; HopSkipJump median L2 2e-6).
        net.scale.mean.copy_(mean)
        net.scale.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(cfg.seed)
    net.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), cfg.batch_size):
            batch = order[start:start + cfg.batch_size]
            opt.zero_grad()
            loss_fn(net(xt[batch]), yt[batch]).backward()
            opt.step()
    net.eval()
    return net


def predict(net: nn.Module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.as_tensor(X, dtype=torch.float32)).argmax(1).numpy()


def train_classifier(X: np.ndarray, y: np.ndarray, net_config: dict[str, Any], cfg: TrainConfig) -> TrainResult:
    """Split, fit and score on the held-out part (accuracy, macro F1)."""
    torch.manual_seed(cfg.seed)
    train_idx, test_idx = split_indices(y, cfg.test_fraction, cfg.seed)
    net = fit(build_net(net_config), X[train_idx], y[train_idx], cfg)
    pred = predict(net, X[test_idx])
    metrics = {"test_accuracy": float(accuracy_score(y[test_idx], pred)),
               "test_f1_macro": float(f1_score(y[test_idx], pred, average="macro")),
               "train_accuracy": float(accuracy_score(y[train_idx], predict(net, X[train_idx]))),
               "train_rows": int(len(train_idx)), "test_rows": int(len(test_idx))}
    return TrainResult(net, metrics, train_idx, test_idx)


def save_model_folder(net: nn.Module, net_config: dict[str, Any], folder: Path, extra: dict[str, Any]) -> None:
    """Write weights (safetensors) and config (JSON) atomically into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    write_json_atomic(folder / CONFIG, {"net": net_config, **extra})
