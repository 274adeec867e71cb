"""CycloneDX SBOM of the training environment, made by cyclonedx-bom (`cyclonedx-py environment`).

    sbom = write_environment_sbom(model_dir.parent / "sbom.cdx.json")   # every installed distribution
    sbom.sha256, sbom.components["torch"]                               # digest for the provenance
    again = read_sbom(sbom.path)                                        # ArtifactError if not CycloneDX

cyclonedx-bom's supported interface is its command line (its Python modules are internal), so it
runs as a subprocess of the same interpreter, offline, with `--output-reproducible`: the same
environment gives the same bytes and so the same digest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mlsecops.core.errors import ArtifactError
from mlsecops.core.fileio import atomic_path, sha256_file

MEDIA_TYPE = "application/vnd.cyclonedx+json"
SPEC_VERSION = "1.6"
_KEY_PACKAGES = ("torch", "safetensors", "numpy", "dagster", "mlflow", "model-signing", "mlsecops")


@dataclass(frozen=True)
class Sbom:
    """A CycloneDX SBOM on disk: where, its digest, and what it lists."""

    path: Path
    sha256: str
    spec_version: str
    component_count: int
    components: dict[str, str] = field(default_factory=dict)  # name -> version, key packages only

    def to_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "sha256": self.sha256, "media_type": MEDIA_TYPE,
                "spec_version": self.spec_version, "component_count": self.component_count,
                "components": dict(self.components)}


def _pyproject() -> Path | None:
    candidate = Path(__file__).resolve().parents[3] / "pyproject.toml"
    return candidate if candidate.is_file() else None


def write_environment_sbom(path: Path | str, *, python: str | None = None, validate: bool = False,
                           timeout_s: float = 300) -> Sbom:
    """Write the SBOM of `python`'s environment (default: this interpreter's) to `path`, atomically.

    `validate=True` makes cyclonedx-bom check the result against the CycloneDX JSON schema
    (about 15 s on two cores); the default checks structure only, when reading it back.
    """
    path = Path(path)
    cmd = [sys.executable, "-m", "cyclonedx_py", "environment", "--output-reproducible",
           "--spec-version", SPEC_VERSION, "--output-format", "JSON",
           "--validate" if validate else "--no-validate", "--mc-type", "application"]
    if (pyproject := _pyproject()) is not None:
        cmd += ["--pyproject", str(pyproject)]
    with atomic_path(path) as tmp:
        cmd += ["--output-file", str(tmp), python or sys.executable]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ArtifactError(f"cyclonedx-py could not build the SBOM for {path}: {exc}") from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ArtifactError(f"cyclonedx-py failed (exit {done.returncode}) building {path}: {' | '.join(tail)}")
    return read_sbom(path)


def read_sbom(path: Path | str) -> Sbom:
    """Read an SBOM back and check it is a CycloneDX JSON document listing components."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"SBOM {path} is missing or not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        raise ArtifactError(f"SBOM {path} is not a CycloneDX document (bomFormat is "
                            f"{doc.get('bomFormat') if isinstance(doc, dict) else type(doc).__name__!r})")
    components = doc.get("components")
    if not isinstance(components, list) or not components:
        raise ArtifactError(f"SBOM {path} lists no components: regenerate it with write_environment_sbom")
    names = {str(c.get("name", "")).lower(): str(c.get("version", "")) for c in components if isinstance(c, dict)}
    root = (doc.get("metadata") or {}).get("component") or {}
    if root.get("name"):
        names.setdefault(str(root["name"]).lower(), str(root.get("version", "")))
    key = {name: names[name] for name in _KEY_PACKAGES if name in names}
    return Sbom(path, sha256_file(path), str(doc.get("specVersion", "")), len(components), key)
