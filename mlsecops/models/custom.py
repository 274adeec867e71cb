"""A team's own torch model, named `package.module:Class` and imported from their project folder.

    net = build_custom({"architecture": "mynets.tiny:TinyNet", "code": {"path": "/proj", "file": "mynets/tiny.py",
                        "sha256": "…"}, "in_features": 12, "classes": 3, "width": 16})

Loading user code is code execution, so the code file's sha256 is pinned in the model config (which
is signed with the weights): a file that changed since training is refused before it is imported.
The user's class gets (in_features, classes, **kwargs); it is wrapped with the project's
`Standardize` layer (`.scale`), whose buffers are saved with the weights, so the folder takes raw
features like the built-in nets. Weights are read only as safetensors by the verified loader.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlsecops.core.errors import MlsecopsError
from mlsecops.core.fileio import sha256_file


class ModelCodeError(MlsecopsError):
    """A `module:Class` model cannot be imported, is not an nn.Module, or gives the wrong output shape."""


class Standardized(nn.Module):
    """`scale` (mean/std buffers) in front of the user's module."""

    def __init__(self, scale: nn.Module, net: nn.Module) -> None:
        super().__init__()
        self.scale = scale
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.scale(x))


def locate(reference: str, project: Path) -> tuple[str, str, Path]:
    """(module, class, file) of `package.module:Class` under `project`; ModelCodeError if absent."""
    if reference.count(":") != 1:
        raise ModelCodeError(f"model '{reference}' is not 'package.module:Class'")
    module, cls = reference.split(":")
    if not module or not cls or not all(p.isidentifier() for p in module.split(".")) or not cls.isidentifier():
        raise ModelCodeError(f"model '{reference}' is not 'package.module:Class' (dotted identifiers)")
    base = Path(project).joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return module, cls, candidate.resolve()
    raise ModelCodeError(f"model '{reference}': no {base.with_suffix('.py')} (looked under the project folder "
                         f"{project}): set model.path in the spec to the folder that holds package '{module.split('.')[0]}'")


def code_record(reference: str, project: Path) -> dict[str, str]:
    """What the spec's evidence pins about the model code: folder, file and sha256."""
    _, _, file = locate(reference, project)
    return {"path": str(Path(project).resolve()), "file": str(file), "sha256": sha256_file(file)}


def _import(reference: str, code: dict[str, str]) -> type:
    module, cls, file = locate(reference, Path(code["path"]))
    if code.get("sha256") and sha256_file(file) != code["sha256"]:
        raise ModelCodeError(f"model code {file} changed since it was pinned (sha256 {sha256_file(file)[:12]}… != "
                             f"{code['sha256'][:12]}…): re-run the pipeline to train and sign it again")
    name = f"mlsecops_user_{hashlib.sha256(str(file).encode()).hexdigest()[:12]}.{module}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ModelCodeError(f"model code {file} cannot be imported")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception as exc:  # the user's code: any failure is reported in one line
        sys.modules.pop(name, None)
        raise ModelCodeError(f"model code {file} failed to import: {type(exc).__name__}: {exc}") from None
    target = getattr(mod, cls, None)
    if target is None:
        raise ModelCodeError(f"model '{reference}': {file} defines no '{cls}'")
    if not (isinstance(target, type) and issubclass(target, nn.Module)):
        raise ModelCodeError(f"model '{reference}' is not a torch nn.Module subclass: give a class deriving nn.Module")
    return target


def build_custom(config: dict[str, Any], scale: nn.Module) -> nn.Module:
    """Import, instantiate with (in_features, classes, **kwargs), wrap with `scale`, check the output shape."""
    params = dict(config)
    reference, code = params.pop("architecture"), params.pop("code", None) or {}
    target = _import(reference, code)
    n, k = params["in_features"], params["classes"]
    try:
        net = target(**params)
    except Exception as exc:
        raise ModelCodeError(f"model '{reference}' could not be built with {sorted(params)}: "
                             f"{type(exc).__name__}: {exc}") from None
    if not isinstance(net, nn.Module):
        raise ModelCodeError(f"model '{reference}' did not build an nn.Module")
    try:
        with torch.no_grad():
            out = net(torch.zeros(2, n))
    except Exception as exc:
        raise ModelCodeError(f"model '{reference}' fails on a batch of shape (2, {n}): {type(exc).__name__}: {exc}") from None
    if tuple(getattr(out, "shape", ())) != (2, k):
        raise ModelCodeError(f"model '{reference}' returns shape {tuple(getattr(out, 'shape', ()))} for a batch of "
                             f"(2, {n}), not (2, {k}) logits for the {k} classes: fix its output layer")
    return Standardized(scale, net)
