"""The one way the project loads a model: verify the signature bundle, then read weights.

    net, meta, signed = load_verified_model(model_dir, bundle, public_key)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from mlsecops.controls.signing import SignedModel, verify_model
from mlsecops.models.training import load_model_folder


def load_verified_model(model_dir: Path, bundle: Path, public_key: Path) -> tuple[nn.Module, dict[str, Any], SignedModel]:
    """Raise SignatureError before any weight byte is parsed if the folder does not verify."""
    signed = verify_model(model_dir, bundle, public_key)
    net, meta = load_model_folder(model_dir)
    return net, meta, signed
