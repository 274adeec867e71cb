"""Evidence store: one canonical JSON document per step and run, addressed by sha256.

    store = EvidenceStore(home.evidence)
    ref = store.write("patients", run_id, "raw_data", {"sha256": ...})
    doc = store.latest("patients", "raw_data")      # verified against the recorded digest

Layout: `<root>/<pipeline>/<run_id>/<step>.json` and `<root>/<pipeline>/latest.json`, which
records the newest run id and, per step, the run and digest of its newest document.
"""

from __future__ import annotations

import fcntl
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from mlsecops.core.errors import EvidenceError
from mlsecops.core.fileio import canonical_json, sha256_bytes, write_bytes_atomic, write_json_atomic

SCHEMA = "mlsecops.evidence/v1"


@dataclass(frozen=True)
class EvidenceRef:
    """Where an evidence document lives and the digest it must have."""

    pipeline: str
    step: str
    run_id: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Evidence:
    """A loaded, digest-verified evidence document."""

    ref: EvidenceRef
    body: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        return self.body["data"]


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class EvidenceStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _doc_path(self, pipeline: str, run_id: str, step: str) -> Path:
        return self.root / pipeline / run_id / f"{step}.json"

    def _index_path(self, pipeline: str) -> Path:
        return self.root / pipeline / "latest.json"

    @contextmanager
    def _locked(self, pipeline: str) -> Iterator[None]:
        lock = self.root / pipeline / ".lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write(self, pipeline: str, run_id: str, step: str, data: dict[str, Any]) -> EvidenceRef:
        """Write the step's document atomically and move the `latest` pointer to it."""
        body = {"schema": SCHEMA, "pipeline": pipeline, "run_id": run_id, "step": step,
                "written_at": now_utc(), "data": data}
        path = self._doc_path(pipeline, run_id, step)
        digest = write_json_atomic(path, body)
        with self._locked(pipeline):
            index = self._read_index(pipeline)
            index["run_id"] = run_id
            index.setdefault("steps", {})[step] = {"run_id": run_id, "sha256": digest}
            write_bytes_atomic(self._index_path(pipeline), canonical_json(index))
        return EvidenceRef(pipeline, step, run_id, path, digest)

    def _read_index(self, pipeline: str) -> dict[str, Any]:
        path = self._index_path(pipeline)
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EvidenceError(f"evidence index {path} is unreadable: {exc}") from exc

    def latest_ref(self, pipeline: str, step: str) -> EvidenceRef:
        entry = self._read_index(pipeline).get("steps", {}).get(step)
        if entry is None:
            raise EvidenceError(
                f"no evidence for step '{step}' of pipeline '{pipeline}' under {self.root}: "
                f"materialize '{pipeline}/{step}' first")
        return EvidenceRef(pipeline, step, entry["run_id"],
                           self._doc_path(pipeline, entry["run_id"], step), entry["sha256"])

    def latest_run_id(self, pipeline: str) -> str | None:
        return self._read_index(pipeline).get("run_id")

    def steps(self, pipeline: str) -> list[str]:
        return sorted(self._read_index(pipeline).get("steps", {}))

    def load(self, ref: EvidenceRef) -> Evidence:
        """Read a document and check it still has the digest recorded when it was written."""
        try:
            raw = ref.path.read_bytes()
        except OSError as exc:
            raise EvidenceError(f"evidence {ref.path} is missing: {exc.strerror}") from exc
        actual = sha256_bytes(raw)
        if actual != ref.sha256:
            raise EvidenceError(
                f"evidence {ref.path} was altered after it was written: sha256 {actual[:12]}… "
                f"!= recorded {ref.sha256[:12]}…")
        return Evidence(ref, json.loads(raw))

    def latest(self, pipeline: str, step: str) -> Evidence:
        return self.load(self.latest_ref(pipeline, step))
