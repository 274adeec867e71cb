"""Artifact scanning: allow only non-executable formats (by content) and run every pickle scanner.

    report = scan_path(model_dir, policy.scanning)          # a file or a folder
    outcome = evaluate_artifact_safe(report.to_dict(), policy.scanning)
    assert outcome.passed, outcome.detail                   # blocking check `artifact_safe`

Each file's format is decided from its bytes (a pickle named `model.safetensors` is a pickle);
a format not on the policy's allowlist blocks. picklescan (strict), fickling and modelscan run
as defence in depth and each names what it objects to: no single scanner catches everything
(modelscan skips a `torch.save` pickle of a custom class; picklescan and fickling flag it).
Scanners are registered in `_scanners.SCANNERS`; a scanner that crashes on a file blocks it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from mlsecops.controls.model.scanning import formats as _formats
from mlsecops.controls.model.scanning._scanners import SCANNERS, Finding, FormatAllowlist, Scanner
from mlsecops.core.outcome import MODEL_DEPLOYMENT, CheckOutcome
from mlsecops.core.errors import ArtifactError
from mlsecops.core.fileio import canonical_json, sha256_bytes, sha256_file
from mlsecops.controls.model.policy import ScanningPolicy

CHECK = "artifact_safe"
ATLAS = "AML.T0011.000"
MITIGATION = ("M0016 vulnerability scanning, M0014 verify ML artifacts: ship weights as safetensors "
              "and configuration as JSON; never unpickle an artifact")

__all__ = ["ScanReport", "FileScan", "Finding", "scan_path", "evaluate_artifact_safe", "CHECK"]


@dataclass(frozen=True)
class FileScan:
    """One scanned file: its content-detected format, digest and what the scanners found."""

    path: str
    format: str
    size: int
    sha256: str | None
    findings: tuple[Finding, ...] = ()

    @property
    def blocked(self) -> bool:
        return any(f.blocking for f in self.findings)


@dataclass(frozen=True)
class ScanReport:
    """The result of scanning a file or folder; `to_dict()` is the evidence document's data."""

    target: str
    kind: str
    files: tuple[FileScan, ...]
    scanners: dict[str, str]
    allowed_formats: tuple[str, ...]
    reasons: tuple[str, ...] = field(default=())

    @property
    def safe(self) -> bool:
        return not self.reasons

    @property
    def manifest(self) -> dict[str, str | None]:
        return {f.path: f.sha256 for f in self.files}

    @property
    def digest(self) -> str:
        """The folder digest of what was scanned (equals `fileio.folder_digest` of a clean folder)."""
        return sha256_bytes(canonical_json(self.manifest))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["safe"] = self.safe
        return data


def _build_scanners(policy: ScanningPolicy) -> list[Scanner]:
    scanners: list[Scanner] = [FormatAllowlist(tuple(policy.allowed_formats))]
    scanners += [SCANNERS[name]() for name in policy.scanners]
    return scanners


def _entries(root: Path) -> list[tuple[Path, str]]:
    """Every entry under `root` (files, links, special files), never following links."""
    if not root.is_dir() or root.is_symlink():
        return [(root, root.name)]
    out: list[tuple[Path, str]] = []
    for base, dirs, files in os.walk(root, followlinks=False):
        for name in sorted(dirs):
            if (Path(base) / name).is_symlink():
                files.append(name)
        for name in sorted(files):
            path = Path(base) / name
            out.append((path, path.relative_to(root).as_posix()))
    return sorted(out, key=lambda item: item[1])


def scan_path(path: Path | str, policy: ScanningPolicy | None = None, *,
              progress: Callable[[str], None] | None = None) -> ScanReport:
    """Scan a file or every file under a folder; raise ArtifactError if `path` does not exist."""
    policy = policy or ScanningPolicy()
    root = Path(path)
    if not root.exists() and not root.is_symlink():
        raise ArtifactError(f"artifact {root} does not exist: nothing to scan")
    scanners = _build_scanners(policy)
    results = []
    for file, rel in _entries(root):
        if progress:
            progress(rel)
        file_format = _formats.detect_format(file)
        findings: list[Finding] = []
        for scanner in scanners:
            if not scanner.applies_to(file_format):
                continue
            try:
                findings += scanner.scan(file, rel, file_format)
            except Exception as exc:  # noqa: BLE001 - a file that crashes a scanner is not cleared by it
                findings.append(Finding(scanner.name, rel, True,
                                        f"scanner failed on this file ({type(exc).__name__}: {exc})"))
        regular = file_format not in (_formats.SYMLINK, _formats.SPECIAL)
        results.append(FileScan(rel, file_format, file.lstat().st_size, sha256_file(file) if regular else None,
                                tuple(findings)))
    scanner_versions = {s.name: s.version() for s in scanners}
    report = ScanReport(str(root), "folder" if root.is_dir() and not root.is_symlink() else "file",
                        tuple(results), scanner_versions, tuple(policy.allowed_formats))
    reasons = _reasons(report.to_dict(), policy)
    return ScanReport(report.target, report.kind, report.files, report.scanners, report.allowed_formats,
                      tuple(reasons))


def _reasons(evidence: dict[str, Any], policy: ScanningPolicy, expected_digest: str | None = None) -> list[str]:
    """Every reason the scanned artifact is unsafe under `policy`, recomputed from the evidence."""
    reasons: list[str] = []
    files = evidence.get("files") or []
    if not files:
        reasons.append(f"no files were scanned under {evidence.get('target', '?')}")
    ran = set(evidence.get("scanners") or {})
    for name in policy.scanners:
        if name not in ran:
            reasons.append(f"scanner '{name}' required by policy scanning.scanners did not run")
    for entry in files:
        where = entry.get("path", "?")
        if entry.get("format") not in policy.allowed_formats:
            reasons.append(f"{where}: content is {entry.get('format')}, not an allowed format "
                           f"({', '.join(policy.allowed_formats)})")
        for finding in entry.get("findings") or []:
            if finding.get("blocking") and finding.get("scanner") != "format":
                reasons.append(f"{where}: {finding.get('scanner')}: {finding.get('reason')}")
    if expected_digest is not None:
        scanned = sha256_bytes(canonical_json({e.get("path"): e.get("sha256") for e in files}))
        if scanned != expected_digest:
            reasons.append(f"the scanned files (digest {scanned[:12]}…) are not the model being signed or "
                           f"promoted ({expected_digest[:12]}…): scan it again")
    return reasons


def evaluate_artifact_safe(evidence: dict[str, Any], policy: ScanningPolicy, *,
                           expected_digest: str | None = None) -> CheckOutcome:
    """The `artifact_safe` check, recomputed from a scan's evidence dict under the current policy.

    With `expected_digest` (a folder digest, `fileio.folder_digest`) the scan must also have
    covered exactly that model's files, so a clean scan of another artifact does not count.
    """
    reasons = _reasons(evidence, policy, expected_digest)
    unsafe_files = {r.split(":", 1)[0] for r in reasons}
    detail = ("; ".join(reasons) if reasons else
              f"{len(evidence.get('files') or [])} file(s) are {'/'.join(policy.allowed_formats)} by content "
              f"and {', '.join(policy.scanners)} found nothing")
    return CheckOutcome(check=CHECK, passed=not reasons, value=len(unsafe_files) if reasons else 0,
                        threshold=0, policy_key="scanning", control=MODEL_DEPLOYMENT, atlas=ATLAS,
                        detail=detail, mitigation=MITIGATION)
