"""Discretion: find PII in a table offline (Presidio), redact it, and gate on what remains.

    report = scan_table(frame, policy.pii)                               # per-column findings
    clean, redaction = redact_table(frame, report, policy.pii, key)      # drop / mask / replace / HMAC
    outcomes = evaluate_pii(build_evidence(report, redaction, scan_table(clean, policy.pii)), policy.pii)

Numeric and boolean columns are provably non-text and skipped. A string column is *structured*
(a sample of its distinct values classifies it, and an action applies to the whole column) or *free
text* (declared, or a median of `free_text_min_words` words: every distinct value is scanned and each
finding is redacted in place). A structured column with findings too rare to classify it is scanned
fully as free text, so rare PII is not left behind.

Evidence never holds a raw value: examples are shapes ("Xxxx Xxxxx", "###-##-####"), and the
pseudonymization key (HMAC-SHA256, `$MLSECOPS_HOME/keys/<key_name>.key`, mode 0600) is shown only
as a fingerprint. Stable API: `scan_table`, `redact_table`, `build_evidence`, `evaluate_*`,
`pseudonym_key`, `PiiConfig`, `PiiReport`, `RedactionReport`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from mlsecops.core.outcome import DATA_PROCESSING, CheckOutcome
from mlsecops.core.errors import PiiError
from mlsecops.core.fileio import canonical_json, sha256_bytes, write_bytes_atomic
from mlsecops.controls.data.discretion.policy import PiiPolicy

PiiConfig = PiiPolicy  # the policy section is the control's configuration
ATLAS = "AML.T0024.001"  # PII that reaches training can be recovered from the model (inversion/memorization)
MITIGATION = "AML.M0007 sanitize training data: drop, mask or pseudonymize personal data before training"
_EXAMPLES = 3
_OVERLAP = 200
# When several entities classify one structured column, the strongest action wins.
_STRENGTH = {"block": 5, "drop": 4, "replace": 3, "mask": 2, "pseudonymize": 1}
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Finding:
    """One entity found in one text: character offsets and confidence (never the text itself)."""

    entity: str
    start: int
    end: int
    score: float


@dataclass
class EntityStats:
    entity: str
    hits: int = 0                 # distinct values (structured) or rows (free text) with the entity
    findings: int = 0             # spans found
    score_sum: float = 0.0
    max_score: float = 0.0
    examples: list[str] = field(default_factory=list)

    def to_dict(self, denominator: int) -> dict[str, Any]:
        return {"hits": self.hits, "findings": self.findings,
                "hit_rate": round(self.hits / denominator, 4) if denominator else 0.0,
                "mean_score": round(self.score_sum / self.findings, 3) if self.findings else 0.0,
                "max_score": round(self.max_score, 3), "examples": self.examples}


@dataclass
class ColumnReport:
    """What one column holds: kind, how much was scanned, entities found, how it is declared."""

    column: str
    dtype: str
    kind: str                      # non_text | structured | free_text | empty
    rows: int
    non_null: int
    scanned: int = 0               # distinct values analyzed
    declared: str | None = None    # identity | free_text | None
    entities: dict[str, EntityStats] = field(default_factory=dict)
    classified: tuple[str, ...] = ()
    spans: dict[str, list[Finding]] = field(default_factory=dict, repr=False)  # value -> findings (not evidence)

    @property
    def denominator(self) -> int:
        return self.non_null if self.kind == "free_text" else self.scanned

    @property
    def has_pii(self) -> bool:
        return bool(self.classified)

    def to_dict(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "kind": self.kind, "rows": self.rows, "non_null": self.non_null,
                "scanned_values": self.scanned, "declared": self.declared, "classified": list(self.classified),
                "entities": {e: s.to_dict(self.denominator) for e, s in sorted(self.entities.items())}}


@dataclass
class PiiReport:
    rows: int
    columns: dict[str, ColumnReport]
    engine: dict[str, Any]

    def pii_columns(self) -> list[str]:
        return [c for c, r in self.columns.items() if r.has_pii]

    def unexpected_columns(self) -> list[str]:
        """Columns with PII that the policy/schema did not declare as identity or free text."""
        return [c for c, r in self.columns.items() if r.has_pii and r.declared is None]

    def findings(self) -> int:
        return sum(s.findings for r in self.columns.values() for s in r.entities.values())

    def to_evidence(self) -> dict[str, Any]:
        return {"rows": self.rows, "engine": self.engine, "findings": self.findings(),
                "pii_columns": self.pii_columns(), "unexpected_columns": self.unexpected_columns(),
                "columns": {c: r.to_dict() for c, r in self.columns.items()}}

    def row_spans(self, frame: pd.DataFrame) -> Iterable[dict[str, Any]]:
        """Per-row spans of free-text and fully scanned columns (type, start, end, score), no text."""
        for name, col in self.columns.items():
            if col.kind != "free_text":
                continue
            for position, value in enumerate(frame[name].tolist()):
                text = _as_text(value)
                for f in col.spans.get(text, []) if text is not None else []:
                    yield {"row": position, "column": name, "entity": f.entity, "start": f.start,
                           "end": f.end, "score": round(f.score, 3)}


@dataclass
class RedactionReport:
    columns: dict[str, dict[str, Any]]
    dropped: list[str]
    key_fingerprint: str | None

    def to_evidence(self) -> dict[str, Any]:
        return {"columns": self.columns, "dropped": self.dropped, "key_fingerprint": self.key_fingerprint}


# ----------------------------------------------------------------------------------------------
# scanning


def _analyzer(config: PiiPolicy):  # noqa: ANN202
    from mlsecops.controls.data.discretion._recognizers import build_analyzer

    return build_analyzer(locale=config.locale, entities=tuple(config.entities), nlp_engine=config.nlp_engine,
                          spacy_model=config.spacy_model, gazetteers=config.gazetteers)


def engine_info(config: PiiPolicy) -> dict[str, Any]:
    from mlsecops.controls.data.discretion._gazetteer import load_gazetteer

    analyzer = _analyzer(config)
    info: dict[str, Any] = {
        "nlp_engine": config.nlp_engine if config.nlp_engine == "builtin" else f"spacy:{config.spacy_model}",
        "locale": config.locale, "entities": list(config.entities), "min_score": config.min_score,
        "recognizers": sorted(r.name for r in analyzer.registry.recognizers)}
    if config.nlp_engine == "builtin" or config.gazetteers:
        info["gazetteer"] = load_gazetteer().provenance
    return info


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def _context_words(column: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", column.lower()) if w]


_DIGIT = re.compile(r"\d")
_UPPER = re.compile(r"[A-ZÀ-ÖØ-Þ]")
# What a text must contain for a recognizer of the entity to possibly match (the patterns need it).
_NEEDS: dict[str, Callable[[str], bool]] = {
    "EMAIL_ADDRESS": lambda t: "@" in t,
    "IP_ADDRESS": lambda t: ":" in t or _DIGIT.search(t) is not None,
    **{e: (lambda t: _DIGIT.search(t) is not None) for e in (
        "PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "IBAN_CODE", "DATE_OF_BIRTH", "US_ITIN", "US_BANK_NUMBER",
        "US_PASSPORT", "US_DRIVER_LICENSE")},
}
_LETTERS = re.compile(r"[^\W\d_]{2}")
# lower-case names ("maria garcia") and addresses ("ul. polna 3") need letters, not capitals
_NEEDS_BUILTIN = {"PERSON": lambda t: _LETTERS.search(t) is not None,
                  "LOCATION": lambda t: _UPPER.search(t) is not None or _DIGIT.search(t) is not None}


def _possible(text: str, config: PiiPolicy) -> list[str]:
    """The configured entities whose recognizers could match `text` (same findings, fewer recognizers run)."""
    needs = {**_NEEDS, **_NEEDS_BUILTIN} if config.nlp_engine == "builtin" else _NEEDS
    return [e for e in config.entities if e not in needs or needs[e](text)]


def analyze_text(text: str, config: PiiPolicy, context: list[str] | None = None) -> list[Finding]:
    """Findings at or above `min_score` in one text; huge texts are analyzed in overlapping chunks."""
    entities = _possible(text, config)
    if not entities:
        return []
    analyzer = _analyzer(config)
    size = config.chunk_chars
    found: dict[tuple[str, int, int], float] = {}
    for offset in range(0, max(len(text), 1), size):
        chunk = text[max(0, offset - _OVERLAP):offset + size]
        base = max(0, offset - _OVERLAP)
        for r in analyzer.analyze(chunk, language="en", entities=entities,
                                  score_threshold=config.min_score, context=context or None):
            key = (r.entity_type, base + r.start, base + r.end)
            found[key] = max(found.get(key, 0.0), r.score)
    findings = [Finding(e, s, t, sc) for (e, s, t), sc in sorted(found.items(), key=lambda kv: kv[0][1])]
    # a finding inside a longer one of another type is part of it ("Aaron Way" in a street address)
    # and of two types on the same span the more confident one stays ("Georgia": PERSON or LOCATION)
    return [f for f in findings if not any(
        o.entity != f.entity and o.start <= f.start and f.end <= o.end and (
            o.end - o.start > f.end - f.start or (o.start == f.start and o.end == f.end and
                                                  (o.score, o.entity) > (f.score, f.entity)))
        for o in findings)]


def shape(text: str, limit: int = 40) -> str:
    """A value's shape with every letter and digit hidden: 'Xxxx Xxxxx', '###-##-####'."""
    out = []
    for ch in text[:limit]:
        out.append("X" if ch.isupper() else "x" if ch.isalpha() else "#" if ch.isdigit() else
                   " " if ch.isspace() else ch if ch.isascii() else "?")
    return "".join(out) + ("…" if len(text) > limit else "")


def _declared(column: str, identity: set[str], free_text: set[str]) -> str | None:
    if column in identity:
        return "identity"
    if column in free_text:
        return "free_text"
    return None


def _record(stats: dict[str, EntityStats], text: str, findings: list[Finding], weight: int) -> None:
    for entity in {f.entity for f in findings}:
        s = stats.setdefault(entity, EntityStats(entity))
        s.hits += weight
    for f in findings:
        s = stats[f.entity]
        s.findings += weight
        s.score_sum += f.score * weight
        s.max_score = max(s.max_score, f.score)
        if len(s.examples) < _EXAMPLES:
            example = shape(text[f.start:f.end])
            if example not in s.examples:
                s.examples.append(example)


def _scan_values(values: list[str], config: PiiPolicy, context: list[str] | None,
                 progress: Progress | None, label: str) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    step = max(1, len(values) // 20)
    for i, text in enumerate(values):
        out[text] = analyze_text(text, config, context)
        if progress and (i % step == 0 or i == len(values) - 1):
            progress(label, i + 1, len(values))
    return out


def scan_table(frame: pd.DataFrame, config: PiiPolicy, *, identity_columns: Iterable[str] = (),
               free_text_columns: Iterable[str] = (), progress: Progress | None = None) -> PiiReport:
    """Classify every column of `frame`; free-text columns are scanned in full.

    `identity_columns` / `free_text_columns` add to the policy's lists (a pipeline passes its schema's roles).
    """
    if not isinstance(frame, pd.DataFrame):
        raise PiiError(f"scan_table needs a pandas DataFrame, got {type(frame).__name__}")
    identity = set(config.identity_columns) | set(identity_columns)
    free_text = set(config.free_text_columns) | set(free_text_columns)
    rng = np.random.default_rng(0)
    columns: dict[str, ColumnReport] = {}
    for name in frame.columns:
        if not isinstance(name, str):
            raise PiiError(f"column name {name!r} is not a string: give every column a text name before scanning")
        series = frame[name]
        dtype = str(series.dtype)
        report = ColumnReport(name, dtype, "non_text", len(series), int(series.notna().sum()),
                              declared=_declared(name, identity, free_text))
        columns[name] = report
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            continue  # provably non-text: numbers and booleans carry no names, emails or SSNs
        if pd.api.types.is_datetime64_any_dtype(series):
            series = series.dt.strftime("%Y-%m-%d")
        texts = [t for t in (_as_text(v) for v in series.tolist()) if t is not None]
        if not texts:
            report.kind = "empty"
            continue
        distinct = list(dict.fromkeys(texts))
        words = np.median([len(t.split()) for t in (distinct if len(distinct) <= 1000 else
                                                     [distinct[i] for i in rng.choice(len(distinct), 1000, replace=False)])])
        context = _context_words(name)
        if report.declared == "free_text" or words >= config.free_text_min_words:
            _scan_free_text(report, texts, distinct, config, context, progress)
            continue
        report.kind = "structured"
        sample = distinct if len(distinct) <= config.sample_size else \
            [distinct[i] for i in sorted(rng.choice(len(distinct), config.sample_size, replace=False))]
        spans = _scan_values(sample, config, context, progress, name)
        report.scanned = len(sample)
        for text, findings in spans.items():
            _record(report.entities, text, findings, 1)
        report.classified = tuple(sorted(e for e, s in report.entities.items()
                                         if s.hits / report.scanned >= config.min_hit_rate))
        if report.entities and not report.classified:
            # findings too rare to classify the column: scan every value, redact each finding in place
            report.entities = {}
            _scan_free_text(report, texts, distinct, config, context, progress)
    return PiiReport(len(frame), columns, engine_info(config))


def _scan_free_text(report: ColumnReport, texts: list[str], distinct: list[str], config: PiiPolicy,
                    context: list[str], progress: Progress | None) -> None:
    report.kind = "free_text"
    report.spans = _scan_values(distinct, config, context, progress, report.column)
    report.scanned = len(distinct)
    counts: dict[str, int] = {}
    for t in texts:
        counts[t] = counts.get(t, 0) + 1
    for text, findings in report.spans.items():
        if findings:
            _record(report.entities, text, findings, counts[text])
    report.spans = {t: f for t, f in report.spans.items() if f}
    report.classified = tuple(sorted(report.entities))


# ----------------------------------------------------------------------------------------------
# redaction


def pseudonym_key(keys_dir: Path, name: str = "pii-hmac") -> bytes:
    """The HMAC key under `keys_dir` (32 random bytes, file mode 0600), created on first use."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise PiiError(f"pseudonymization key name {name!r} must be letters, digits, '.', '_' or '-'")
    path = Path(keys_dir) / f"{name}.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        write_bytes_atomic(path, os.urandom(32).hex().encode(), mode=0o600)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PiiError(f"pseudonymization key {path} is readable by other users (mode {mode:o}): chmod 600 {path}")
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise PiiError(f"pseudonymization key {path} is not hex text; delete it to create a new key "
                       f"(earlier pseudonyms will no longer join)") from None
    if len(key) < 16:
        raise PiiError(f"pseudonymization key {path} is shorter than 16 bytes; delete it to create a new one")
    return key


def key_fingerprint(key: bytes) -> str:
    return sha256_bytes(b"mlsecops-pii-key-fingerprint" + key)[:16]


def _pseudonym(entity: str, text: str, key: bytes) -> str:
    normalized = " ".join(text.split()).casefold()
    return f"{entity}_{hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()[:16]}"


def _transform(action: str, entity: str, text: str, key: bytes | None) -> str:
    if action == "replace":
        return f"<{entity}>"
    if action == "mask":
        return "*" * len(text)
    if action == "drop":
        return ""
    if action == "pseudonymize":
        if key is None:
            raise PiiError(f"the policy pseudonymizes {entity} but no key was given to redact_table")
        return _pseudonym(entity, text, key)
    return text  # block: left as is, the gate fails on it


def _action(entity: str, config: PiiPolicy) -> str:
    return config.actions.get(entity, config.default_action)


def _resolve(findings: list[Finding]) -> list[Finding]:
    """Non-overlapping findings: the highest score wins, then the longest span."""
    chosen: list[Finding] = []
    for f in sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        if all(f.end <= c.start or f.start >= c.end for c in chosen):
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.start)


def redact_text(text: str, findings: list[Finding], config: PiiPolicy, key: bytes | None) -> tuple[str, dict[str, int]]:
    """Apply each entity's action to its spans; returns the text and spans redacted per entity."""
    out, last, counts = [], 0, {}
    for f in _resolve(findings):
        action = _action(f.entity, config)
        if action == "block":
            continue
        out.append(text[last:f.start])
        out.append(_transform(action, f.entity, text[f.start:f.end], key))
        last = f.end
        counts[f.entity] = counts.get(f.entity, 0) + 1
    out.append(text[last:])
    return "".join(out), counts


def redact_table(frame: pd.DataFrame, report: PiiReport, config: PiiPolicy,
                 key: bytes | None) -> tuple[pd.DataFrame, RedactionReport]:
    """Drop, mask, replace or pseudonymize what `report` found; identity columns follow `identity_action`."""
    out = frame.copy()
    columns: dict[str, dict[str, Any]] = {}
    dropped: list[str] = []
    for name, col in report.columns.items():
        if name not in out.columns:
            raise PiiError(f"column '{name}' was scanned but is not in the table given to redact_table")
        if col.declared == "identity":
            entity = col.classified[0] if col.classified else "ID"
            action = config.identity_action
        elif col.kind == "structured" and col.classified:
            entity = max(col.classified, key=lambda e: (_STRENGTH[_action(e, config)], e))
            action = _action(entity, config)
        elif col.kind == "free_text" and col.spans:
            cells, per_entity = _redact_free_text(out, name, col, config, key)
            columns[name] = {"action": "spans", "cells_changed": cells, "spans_redacted": per_entity,
                             "blocked": sorted(e for e in col.classified if _action(e, config) == "block")}
            continue
        else:
            continue
        if action == "drop":
            out = out.drop(columns=[name])
            dropped.append(name)
            columns[name] = {"action": "drop", "entity": entity}
            continue
        values = out[name]
        mask = values.notna()
        if action != "block":
            out[name] = values.astype(object).where(~mask, values[mask].map(
                lambda v: _transform(action, entity, _as_text(v) or "", key)))
        columns[name] = {"action": action, "entity": entity, "cells_changed": 0 if action == "block" else int(mask.sum())}
    return out, RedactionReport(columns, dropped, key_fingerprint(key) if key else None)


def _redact_free_text(out: pd.DataFrame, name: str, col: ColumnReport, config: PiiPolicy,
                      key: bytes | None) -> tuple[int, dict[str, int]]:
    replaced: dict[str, tuple[str, dict[str, int]]] = {
        text: redact_text(text, findings, config, key) for text, findings in col.spans.items()}
    per_entity: dict[str, int] = {}
    cells = 0
    values = []
    for value in out[name].tolist():
        text = _as_text(value)
        if text is not None and text in replaced:
            new, counts = replaced[text]
            if new != text:
                cells += 1
            for e, n in counts.items():
                per_entity[e] = per_entity.get(e, 0) + n
            values.append(new)
        else:
            values.append(value)
    out[name] = pd.Series(values, index=out.index, dtype=object)
    return cells, per_entity


# ----------------------------------------------------------------------------------------------
# evidence and gates


def build_evidence(scan: PiiReport, redaction: RedactionReport, rescan: PiiReport,
                   config: PiiPolicy) -> dict[str, Any]:
    """The JSON-able evidence of one discretion step (shapes and counts only, never a value)."""
    remaining = {c: {e: s.findings for e, s in r.entities.items()} for c, r in rescan.columns.items()
                 if r.entities}
    identity = sorted({c for c, r in scan.columns.items() if r.declared == "identity"} |
                      {c for c, r in scan.columns.items() if r.kind == "structured" and r.classified})
    return {"scan": scan.to_evidence(), "redaction": redaction.to_evidence(),
            "rescan": {"columns": sorted(rescan.columns), "remaining": remaining,
                       "remaining_findings": rescan.findings()},
            "identity_columns": identity, "unexpected_columns": scan.unexpected_columns(),
            "config_sha256": sha256_bytes(canonical_json(config.model_dump(mode="json")))}


def evaluate_no_unredacted_pii(evidence: dict[str, Any], config: PiiPolicy) -> CheckOutcome:
    """Fails when the rescan of the redacted output still finds more than `max_remaining` findings."""
    remaining = int(evidence["rescan"]["remaining_findings"])
    where = ", ".join(f"{c}: {', '.join(f'{e}×{n}' for e, n in sorted(es.items()))}"
                      for c, es in sorted(evidence["rescan"]["remaining"].items()))
    ok = remaining <= config.max_remaining
    detail = (f"rescan of the redacted table found {remaining} finding(s) at score >= {config.min_score}"
              + (f": {where}" if where else ""))
    return CheckOutcome("no_unredacted_pii", ok, remaining, config.max_remaining, "pii.max_remaining",
                        DATA_PROCESSING, ATLAS, detail, mitigation=MITIGATION)


def evaluate_unexpected_pii(evidence: dict[str, Any], config: PiiPolicy) -> CheckOutcome:
    """Fails when PII sits in an undeclared column and the policy says `unexpected_pii: block`."""
    unexpected = list(evidence["unexpected_columns"])
    blocking = config.unexpected_pii == "block"
    ok = not (unexpected and blocking)
    cols = evidence["scan"]["columns"]
    where = "; ".join(f"{c} ({', '.join(cols[c]['classified'])})" for c in unexpected)
    detail = (f"PII in undeclared column(s): {where}; policy pii.unexpected_pii={config.unexpected_pii}"
              if unexpected else "PII only in declared identity and free-text columns")
    return CheckOutcome("no_unexpected_pii", ok, len(unexpected), 0 if blocking else None,
                        "pii.unexpected_pii", DATA_PROCESSING, ATLAS, detail, mitigation=MITIGATION)


def evaluate_identity_features(evidence: dict[str, Any], features: Iterable[str], config: PiiPolicy) -> CheckOutcome:
    """Fails when an identity column (declared, or classified as PII) is among the training features."""
    identity = set(evidence["identity_columns"])
    leaked = sorted(identity & set(features))
    detail = (f"identity column(s) among training features: {', '.join(leaked)}" if leaked else
              f"none of {len(identity)} identity column(s) is a training feature")
    return CheckOutcome("identity_columns_not_in_features", not leaked, len(leaked), 0,
                        "pii.identity_columns", DATA_PROCESSING, ATLAS, detail, mitigation=MITIGATION)


def evaluate_pii(evidence: dict[str, Any], config: PiiPolicy, features: Iterable[str] | None = None) -> list[CheckOutcome]:
    """Every discretion gate over one evidence document (features: the training feature columns)."""
    outcomes = [evaluate_no_unredacted_pii(evidence, config), evaluate_unexpected_pii(evidence, config)]
    if features is not None:
        outcomes.append(evaluate_identity_features(evidence, features, config))
    return outcomes
