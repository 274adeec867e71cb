"""Every pipeline by name: the reference spec files shipped in the package plus `$MLSECOPS_PIPELINES`.

    spec = get_pipeline("patients")        # the one lookup everyone uses
    for name, spec in PIPELINES.items():   # discovered now (specs/*.yaml + ./pipelines/*.yaml)
    pipelines_dir()                        # $MLSECOPS_PIPELINES, else ./pipelines

Each spec file is loaded and checked in full (pipelines.spec_file) before any pipeline is listed: a
bad file is a one-line SpecError naming it, and nothing from it is registered. Loaded specs are
cached by (path, size, mtime), so re-discovery is cheap and sees edits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from mlsecops.core.errors import MlsecopsError
from mlsecops.core.policy import register_pipeline_defaults
from mlsecops.pipelines.spec_file import SpecError, load_spec_file
from mlsecops.stages.framework import PipelineSpec

REFERENCE_SPECS = Path(__file__).resolve().parent / "specs"
_CACHE: dict[Path, tuple[tuple[int, int], PipelineSpec]] = {}


def pipelines_dir() -> Path:
    """Where a team's spec files live: $MLSECOPS_PIPELINES, else ./pipelines."""
    return Path(os.environ.get("MLSECOPS_PIPELINES") or "pipelines").resolve()


def spec_files() -> list[Path]:
    """Reference specs first, then the team's (*.yaml, *.yml), each folder in name order."""
    files = sorted(REFERENCE_SPECS.glob("*.yaml"))
    user = pipelines_dir()
    if user.is_dir() and user != REFERENCE_SPECS:
        files += sorted([*user.glob("*.yaml"), *user.glob("*.yml")])
    return files


def _load(path: Path) -> PipelineSpec:
    stat = path.stat()
    stamp = (stat.st_size, stat.st_mtime_ns)
    cached = _CACHE.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    spec = load_spec_file(path)
    _CACHE[path] = (stamp, spec)
    return spec


def discover() -> dict[str, PipelineSpec]:
    """Load every spec file; SpecError (naming the file) if one is invalid or two share a name."""
    found: dict[str, tuple[Path, PipelineSpec]] = {}
    for path in spec_files():
        spec = _load(path)
        if spec.name in found:
            raise SpecError(f"{path}: name: pipeline '{spec.name}' is already declared by {found[spec.name][0]}: "
                            "rename one of them")
        found[spec.name] = (path, spec)
    for name, (_, spec) in found.items():
        register_pipeline_defaults(name, spec.policy)
    return {name: spec for name, (_, spec) in found.items()}


class _Discovered(Mapping[str, PipelineSpec]):
    """`PIPELINES`: a read-only mapping that discovers the spec files on each use."""

    def __getitem__(self, name: str) -> PipelineSpec:
        return discover()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(discover())

    def __len__(self) -> int:
        return len(discover())


PIPELINES: Mapping[str, PipelineSpec] = _Discovered()


def get_pipeline(name: str) -> PipelineSpec:
    known = discover()
    if name not in known:
        raise MlsecopsError(f"unknown pipeline '{name}' (known: {', '.join(sorted(known))}; spec files are read "
                            f"from {pipelines_dir()} — set MLSECOPS_PIPELINES or run `mlsecops init`)")
    return known[name]
