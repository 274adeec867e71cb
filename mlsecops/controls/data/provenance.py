"""Collect a tabular source: check it is readable, then record what was collected.

    table, manifest = collect_source(path, expected_columns, max_bytes=policy.source.max_bytes)
    manifest["sha256"], manifest["rows"], manifest["newest_record"]

Every way a source can be bad (missing, empty, too large, not UTF-8, not CSV/Parquet, missing
columns) raises SourceError naming the file and the problem.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from mlsecops.core.errors import SourceError
from mlsecops.core.fileio import sha256_bytes


def read_table(path: Path, *, max_bytes: int, encoding: str = "utf-8") -> tuple[pd.DataFrame, bytes]:
    """Read a CSV or Parquet file fully into memory; return the frame and the raw bytes."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"source file {path} not found")
    if not path.is_file():
        raise SourceError(f"source {path} is not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise SourceError(f"source file {path} is empty (0 bytes)")
    if size > max_bytes:
        raise SourceError(f"source file {path} is {size:,} bytes, above the policy limit "
                          f"source.max_bytes={max_bytes:,}")
    raw = path.read_bytes()
    if raw[:4] == b"PAR1":
        try:
            return pd.read_parquet(io.BytesIO(raw)), raw
        except Exception as exc:
            raise SourceError(f"source file {path} is not a readable Parquet file: {exc}") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(f"source file {path} is not valid {encoding}: byte 0x{raw[exc.start]:02x} "
                          f"at offset {exc.start} (line {line})") from None
    if not text.strip():
        raise SourceError(f"source file {path} is empty (whitespace only)")
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise SourceError(f"source file {path} is not a readable CSV: {str(exc).strip()}") from None
    if frame.empty:
        raise SourceError(f"source file {path} has a header but no rows")
    return frame, raw


def check_columns(frame: pd.DataFrame, expected: Iterable[str], path: Path) -> None:
    """Raise SourceError listing missing and unexpected columns."""
    expected = list(expected)
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in set(expected)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if extra:
            parts.append(f"unexpected columns {extra}")
        raise SourceError(f"source file {path} has the wrong schema: {'; '.join(parts)}")


def collect_source(path: Path, expected_columns: Iterable[str], *, max_bytes: int,
                   timestamp_column: str | None = None, encoding: str = "utf-8") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read and fingerprint a source; the manifest is the raw_data evidence."""
    frame, raw = read_table(path, max_bytes=max_bytes, encoding=encoding)
    check_columns(frame, expected_columns, path)
    newest = None
    if timestamp_column:
        stamps = pd.to_datetime(frame[timestamp_column], errors="coerce", utc=True)
        if stamps.notna().any():
            newest = stamps.max().isoformat()
    manifest = {
        "path": str(Path(path).resolve()),
        "sha256": sha256_bytes(raw),
        "size_bytes": len(raw),
        "rows": int(len(frame)),
        "columns": [str(c) for c in frame.columns],
        "collected_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "newest_record": newest,
    }
    return frame, manifest
