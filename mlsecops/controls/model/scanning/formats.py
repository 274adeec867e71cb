"""Content-based file format detection: what a file *is*, whatever its name says.

The order matters: the structured, strictly validated formats come first (safetensors is
opened with the safetensors library, which rejects any byte not covered by its header), a
pickle stream is recognised before plain text because protocol-0 pickles are ASCII.
"""

from __future__ import annotations

import io
import json
import pickletools
import zipfile
from pathlib import Path

# Formats that cannot carry code a loader would execute (when the loader is the matching one).
SAFETENSORS = "safetensors"
JSON = "json"
TEXT = "text"
PARQUET = "parquet"
EMPTY = "empty"
# Formats that can (or may) execute code on load, or that we cannot vouch for.
PICKLE = "pickle"
TORCH_ZIP = "torch-zip"
ZIP = "zip"
NUMPY = "numpy"
COMPRESSED = "compressed"
SYMLINK = "symlink"
SPECIAL = "special"
UNKNOWN = "unknown"

NON_EXECUTABLE = (SAFETENSORS, JSON, TEXT, PARQUET, EMPTY)
PICKLE_BEARING = (PICKLE, TORCH_ZIP, ZIP, NUMPY, COMPRESSED, UNKNOWN)

_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"7z\xbc\xaf\x27\x1c")
_TEXT_LIMIT = 64 * 2**20  # JSON / text are read whole; larger files of that kind are "unknown"


def detect_format(path: Path) -> str:
    """The format of the file at `path`, decided from its bytes only."""
    path = Path(path)
    if path.is_symlink():
        return SYMLINK
    if not path.is_file():
        return SPECIAL
    size = path.stat().st_size
    if size == 0:
        return EMPTY
    with open(path, "rb") as handle:
        head = handle.read(16)
    if _is_safetensors(path, head, size):
        return SAFETENSORS
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(path)
    if head.startswith(b"\x93NUMPY"):
        return NUMPY
    if head.startswith(b"PAR1") and _tail(path, 4) == b"PAR1":
        return PARQUET
    if any(head.startswith(magic) for magic in _COMPRESSED_MAGIC):
        return COMPRESSED
    if _is_pickle(path, head):
        return PICKLE
    if size <= _TEXT_LIMIT:
        text = _utf8(path)
        if text is not None:
            if _is_json(text):
                return JSON
            if "\x00" not in text:
                return TEXT
    return UNKNOWN


def _is_safetensors(path: Path, head: bytes, size: int) -> bool:
    if len(head) < 9 or head[8:9] != b"{":
        return False
    header_len = int.from_bytes(head[:8], "little")
    if header_len <= 1 or 8 + header_len > size:
        return False
    from safetensors import SafetensorError, safe_open

    try:  # the library checks header JSON, dtypes, shapes and that offsets cover the whole file
        with safe_open(str(path), framework="numpy") as handle:
            handle.keys()
    except (SafetensorError, OSError, ValueError):
        return False
    return True


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return UNKNOWN
    if any(name.endswith("data.pkl") or name.endswith("/constants.pkl") for name in names):
        return TORCH_ZIP
    return ZIP


def _tail(path: Path, n: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(-n, io.SEEK_END)
        return handle.read(n)


def _is_pickle(path: Path, head: bytes) -> bool:
    """A protocol 2+ header, or a stream that disassembles to a STOP opcode (protocols 0/1)."""
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return True
    try:
        with open(path, "rb") as handle:
            ops = 0
            for opcode, _arg, _pos in pickletools.genops(handle):
                ops += 1
                if opcode.name == "STOP":
                    return ops > 1
                if ops > 100_000:
                    return True
    except Exception:  # noqa: BLE001 - any disassembly failure means "not a pickle stream"
        return False
    return False


def _utf8(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
