"""Atomic writes, digests and canonical JSON: the only way the project writes an artifact.

    write_bytes_atomic(path, data)      # temp file in the same folder, fsync, rename
    sha256_file(path)                   # hex digest, streamed
    canonical_json(obj)                 # sorted keys, no spaces, UTF-8
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

_CHUNK = 1 << 20


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes: the form whose sha256 names an evidence document."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def folder_manifest(folder: Path) -> dict[str, str]:
    """Relative POSIX path -> sha256 of every regular file under `folder`, sorted."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in files}


def folder_digest(folder: Path) -> str:
    """One sha256 naming a folder's content: the digest of its canonical manifest."""
    return sha256_bytes(canonical_json(folder_manifest(folder)))


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; rename it over `path` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
        if mode is not None:
            os.chmod(tmp, mode)


def write_json_atomic(path: Path, obj: Any) -> str:
    """Write canonical JSON atomically; return its sha256."""
    data = canonical_json(obj)
    write_bytes_atomic(path, data)
    return sha256_bytes(data)
