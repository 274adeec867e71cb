"""One small class per artifact scanner; `SCANNERS` is the registry the engine builds from the policy.

A scanner gets a file and its content-detected format and returns findings. Adding a scanner is
a new class and a registry entry; the engine in `scanning.py` never changes.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import ClassVar, Protocol

from mlsecops.controls.model.scanning import formats as fmt


@dataclass(frozen=True)
class Finding:
    """One thing a scanner objects to (blocking) or notes (not blocking) about one file."""

    scanner: str
    path: str
    blocking: bool
    reason: str


class Scanner(Protocol):
    name: ClassVar[str]

    def applies_to(self, file_format: str) -> bool: ...

    def scan(self, file: Path, rel: str, file_format: str) -> list[Finding]: ...

    def version(self) -> str: ...


class FormatAllowlist:
    """Blocks every file whose detected format is not on the policy's allowlist."""

    name: ClassVar[str] = "format"

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.allowed = tuple(allowed)

    def applies_to(self, file_format: str) -> bool:
        return True

    def scan(self, file: Path, rel: str, file_format: str) -> list[Finding]:
        if file_format in self.allowed:
            return []
        return [Finding(self.name, rel, True,
                        f"content is {file_format}, not an allowed format ({', '.join(self.allowed)})")]

    def version(self) -> str:
        from mlsecops.core import __version__

        return __version__


class Picklescan:
    """picklescan (strict): lists the globals a pickle stream imports; any non-allowlisted one blocks.

    Runs on every file: it parses by content, and a pickle hidden in a file that another check
    took for something else is exactly what it is there to catch.
    """

    name: ClassVar[str] = "picklescan"

    def applies_to(self, file_format: str) -> bool:
        return file_format not in (fmt.EMPTY, fmt.SYMLINK, fmt.SPECIAL)

    def scan(self, file: Path, rel: str, file_format: str) -> list[Finding]:
        from picklescan.scanner import SafetyLevel, scan_bytes

        with _quiet("picklescan"), open(file, "rb") as handle:
            # picklescan picks its parser by extension; hand it the one the content calls for
            ext = ".pt" if file_format == fmt.TORCH_ZIP else ".npy" if file_format == fmt.NUMPY else None
            result = scan_bytes(handle, rel, ext, strict=True)
        bad = sorted({f"{g.module}.{g.name}" for g in result.globals if g.safety != SafetyLevel.Innocuous})
        findings = []
        if bad:
            findings.append(Finding(self.name, rel, True, f"pickle imports unsafe globals: {', '.join(bad[:8])}"
                                    + (f" (+{len(bad) - 8} more)" if len(bad) > 8 else "")))
        if result.scan_err:
            findings.append(Finding(self.name, rel, True, "pickle stream could not be fully parsed"))
        return findings

    def version(self) -> str:
        return version("picklescan")


class Fickling:
    """fickling: symbolic analysis of pickle streams (raw, or inside zip / torch archives)."""

    name: ClassVar[str] = "fickling"

    def applies_to(self, file_format: str) -> bool:
        return file_format in (fmt.PICKLE, fmt.TORCH_ZIP, fmt.ZIP)

    def scan(self, file: Path, rel: str, file_format: str) -> list[Finding]:
        import fickling
        from fickling.analysis import Severity

        with _quiet("fickling"):
            if file_format in (fmt.TORCH_ZIP, fmt.ZIP):
                results = {f"{rel}:{member}": res
                           for member, res in fickling.scan_zip_archive(str(file), graceful=True).items()}
            else:
                results = {rel: fickling.scan_file(str(file), graceful=True)}
        findings = []
        for where, res in sorted(results.items()):
            if res.severity > Severity.LIKELY_SAFE or res.errors:
                detail = "; ".join(res.errors[:2]) or _fickling_detail(res)
                findings.append(Finding(self.name, rel, True,
                                        f"{where}: {res.severity.name}" + (f" ({detail})" if detail else "")))
        return findings

    def version(self) -> str:
        return version("fickling")


def _fickling_detail(res: object) -> str:
    triggers: list[str] = []
    for analysis in getattr(res, "results", []):
        for name, trigger in analysis.detailed_results().get("AnalysisResult", {}).items():
            triggers.append(f"{name}: {trigger}")
    return "; ".join(triggers[:3])


class Modelscan:
    """modelscan: Protect AI's scanner for pickle, PyTorch, NumPy, Keras/TF operators.

    modelscan chooses its scanners by file extension; it is handed a link to the file named by the
    format detected from content, so a pickle called `model.safetensors` is still scanned as one.
    """

    name: ClassVar[str] = "modelscan"
    _EXT: ClassVar[dict[str, str]] = {fmt.PICKLE: ".pkl", fmt.TORCH_ZIP: ".pt", fmt.ZIP: ".zip",
                                      fmt.NUMPY: ".npy", fmt.COMPRESSED: ".joblib", fmt.UNKNOWN: ".pkl"}

    def applies_to(self, file_format: str) -> bool:
        return file_format in self._EXT

    def scan(self, file: Path, rel: str, file_format: str) -> list[Finding]:
        from modelscan.modelscan import ModelScan
        from modelscan.settings import DEFAULT_SETTINGS

        with tempfile.TemporaryDirectory(prefix="mlsecops-modelscan-") as tmp, _quiet("modelscan"):
            view = Path(tmp) / f"artifact{self._EXT[file_format]}"
            view.symlink_to(Path(file).resolve())
            report = ModelScan(settings=DEFAULT_SETTINGS).scan(view)
        findings = []
        for issue in report.get("issues", []):
            findings.append(Finding(self.name, rel, True,
                                    f"{issue.get('severity', '?')}: {issue.get('description', 'unsafe operator')}"))
        for error in report.get("errors", []):
            findings.append(Finding(self.name, rel, True, f"scan error: {error.get('description', error)}"))
        return findings

    def version(self) -> str:
        return version("modelscan")


SCANNERS: dict[str, type] = {cls.name: cls for cls in (Picklescan, Fickling, Modelscan)}


class _quiet:
    """Silence a scanner's logger (they log every finding at WARNING) for the duration of a scan."""

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def __enter__(self) -> None:
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)

