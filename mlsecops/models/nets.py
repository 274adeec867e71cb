"""The model architectures, built from a JSON-able config (no pickled classes anywhere).

    net = build_net({"architecture": "mlp", "in_features": 30, "classes": 2, "hidden": 32})
    net = build_net({"architecture": "mynets.tiny:TinyNet", "code": {...}, ...})   # models.custom

Every net starts with a `Standardize` layer whose mean/std are buffers saved with the weights,
so a model folder takes raw features and is self-contained.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn


class Standardize(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MLP(nn.Module):
    """Tabular classifier: standardize -> hidden ReLU layer -> logits."""

    def __init__(self, in_features: int, classes: int, hidden: int = 32) -> None:
        super().__init__()
        self.scale = Standardize(in_features)
        self.features = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.scale(x)))


class CNN(nn.Module):
    """Image classifier for side x side single-channel images given as flat pixel rows."""

    shared_scale = True  # standardize with one mean/std for all pixels (see training.fit)

    def __init__(self, in_features: int, classes: int, side: int = 8, channels: int = 16) -> None:
        super().__init__()
        self.side = side
        self.scale = Standardize(in_features)
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        flat = 2 * channels * (side // 2) ** 2
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(flat, 64), nn.ReLU())
        self.head = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.scale(x.reshape(x.shape[0], -1)).reshape(-1, 1, self.side, self.side)
        return self.head(self.features(self.conv(x)))


class Logistic(nn.Module):
    """Multinomial logistic regression: standardize -> one linear layer."""

    def __init__(self, in_features: int, classes: int) -> None:
        super().__init__()
        self.scale = Standardize(in_features)
        self.head = nn.Linear(in_features, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.scale(x))


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {"mlp": MLP, "cnn": CNN, "logistic": Logistic}


def build_net(config: dict[str, Any]) -> nn.Module:
    """Instantiate the architecture a model.json names, with its keyword parameters."""
    params = dict(config)
    arch = params.pop("architecture")
    if ":" in arch:  # a team's own nn.Module, `package.module:Class` (code pinned by sha256)
        from mlsecops.models.custom import build_custom

        return build_custom(config, Standardize(int(params["in_features"])))
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{arch}' (known: {sorted(ARCHITECTURES)})")
    return ARCHITECTURES[arch](**params)
