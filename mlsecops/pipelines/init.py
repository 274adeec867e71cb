"""`mlsecops init`: profile a table and propose a pipeline spec file for it, plus a trusted slice to vouch for.

    result = propose_spec(Path("cars.csv"), target="Origin", name="cars", out_dir=Path("pipelines"))
    result.spec_path, result.reference_path, result.columns, result.review, result.accepted_risks

What it infers, per column: type, range, cardinality and missing values; the PII scanner (Presidio,
offline) over values and column names proposes identity and text roles; near-unique, code-like or
ID-named columns (ids, refs, serials, record numbers) become identity, so no model sees them;
strings with few values become categorical; dates become timestamps with their format. Bounds get a
margin. A stratified 12% is carved as the proposed trusted slice, which the team must vouch for.

Then it runs the pipeline's own controls on the proposal (screen, training, attacks, with the
policy in force) and, where a default gate fails on this clean data, writes an explicit
accepted-risk entry with the measured value and the reason, for a reviewer to confirm. It never
loosens a threshold silently: every change is an `accepted_risks` entry in the file.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlsecops.controls.data.provenance import read_table
from mlsecops.core.fileio import sha256_file, write_bytes_atomic
from mlsecops.core.policy import deep_merge, validate_policy
from mlsecops.pipelines.spec_file import NAME_PATTERN, SpecError, load_spec_file
from mlsecops.policy import Policy, load_policy

ID_WORDS = {"id", "ids", "uuid", "guid", "ref", "refs", "reference", "serial", "serials", "record", "records",
            "rec", "no", "nr", "num", "number", "key", "account", "acct", "ssn", "mrn", "email", "phone", "name",
            "names", "identifier", "code", "barcode", "ticket", "passport", "license", "zip", "postcode"}
SENSITIVE_WORDS = {"sex", "gender", "race", "ethnicity", "ethnic", "religion", "religious", "nationality",
                   "disability", "marital", "pregnant", "pregnancy"}
TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y",
                     "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f", "%d.%m.%Y")
MAX_CATEGORIES = 30
MARGIN = 0.1                         # bounds: observed range widened by 10% of the span on each side


@dataclass
class ColumnGuess:
    name: str
    dtype: str
    role: str
    reason: str
    distinct: int
    missing: float
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass
class InitResult:
    name: str
    spec_path: Path
    reference_path: Path
    columns: list[ColumnGuess]
    classes: list[Any]
    review: list[str]
    accepted_risks: list[dict[str, Any]]
    probe: dict[str, Any]
    seconds: float


def pipelines_home(out: Path | None) -> Path:
    """--out, else $MLSECOPS_PIPELINES, else ./pipelines."""
    return Path(out or os.environ.get("MLSECOPS_PIPELINES") or "pipelines")


def _tokens(name: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return {t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return value
    return value


def _timestamp_format(values: pd.Series) -> str | None:
    sample = values.dropna().astype(str)
    if sample.empty or not sample.str.match(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}").all():
        return None
    for fmt in TIMESTAMP_FORMATS:
        parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
        if parsed.notna().all():
            return fmt
    return None


def _bounds(series: pd.Series, integer: bool) -> tuple[float, float]:
    lo, hi = float(series.min()), float(series.max())
    span = (hi - lo) or max(abs(hi), 1.0)
    low, high = lo - MARGIN * span, hi + MARGIN * span
    if lo >= 0:
        low = max(0.0, low)
    if integer:
        return float(math.floor(low)), float(math.ceil(high))
    return float(f"{low:.6g}"), float(f"{high:.6g}")


def _max_missing(fraction: float) -> float:
    return min(1.0, round(math.ceil((fraction * 1.5 + 0.01) * 100) / 100, 2))


def _classify(name: str, series: pd.Series, target: str, pii: dict[str, Any], path: Path) -> ColumnGuess:
    rows = len(series)
    non_null = series.dropna()
    missing = 1.0 - len(non_null) / rows
    distinct = int(non_null.nunique())
    dtype = str(series.dtype)
    if non_null.empty:
        raise SpecError(f"{path}: column '{name}' is empty in every row: drop it from the data "
                        "(or fill it) before `mlsecops init`")
    guess = ColumnGuess(name, dtype, "", "", distinct, missing)
    if name == target:
        guess.role, guess.reason = "label", "--target"
        return guess
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if not numeric and not pd.api.types.is_bool_dtype(series):
        kinds = {type(v).__name__ for v in non_null.head(5000).tolist()}
        as_number = pd.to_numeric(non_null.astype(str), errors="coerce")
        share = float(as_number.notna().mean())
        if len(kinds) > 1 and not kinds <= {"int", "float"} or 0.8 <= share < 1.0:
            odd = non_null[as_number.isna()].astype(str).head(1).tolist()
            raise SpecError(f"{path}: column '{name}' mixes types ({', '.join(sorted(kinds))}; "
                            f"{share:.0%} numeric, e.g. a value shaped {_shape(odd[0]) if odd else '?'}): "
                            "clean the column so it holds one type")
    tokens = _tokens(name)
    report = pii.get(name)
    unique_ratio = distinct / max(len(non_null), 1)
    if report is not None and report.classified:
        if report.kind == "free_text":
            guess.role, guess.reason = "text", f"free text with PII ({', '.join(report.classified)})"
        else:
            guess.role, guess.reason = "identity", f"PII scanner: {', '.join(report.classified)}"
        return guess
    if tokens & ID_WORDS:
        guess.role, guess.reason = "identity", f"ID-like name ({', '.join(sorted(tokens & ID_WORDS))})"
        return guess
    if tokens & SENSITIVE_WORDS:
        guess.role, guess.reason = "sensitive", (f"sensitive attribute ({', '.join(sorted(tokens & SENSITIVE_WORDS))}): "
                                                 "kept for bias evaluation, not a feature")
        return guess
    if pd.api.types.is_bool_dtype(series):
        guess.role, guess.reason = "categorical", "boolean"
        guess.spec["values"] = [False, True]
        return guess
    if numeric:
        integer = pd.api.types.is_integer_dtype(series) or bool((non_null % 1 == 0).all())
        ordered = integer and unique_ratio > 0.95 and (non_null.is_monotonic_increasing or
                                                      non_null.is_monotonic_decreasing)
        if ordered and len(non_null) > 20:
            guess.role, guess.reason = "identity", "near-unique running integer (a record number)"
            return guess
        if pd.api.types.is_integer_dtype(series) and 3 <= distinct <= 8 and len(non_null) >= 50:
            guess.role, guess.reason = "categorical", f"integer code with {distinct} values"
            guess.spec["values"] = sorted(int(v) for v in non_null.unique())
            return guess
        lo, hi = _bounds(non_null, integer and pd.api.types.is_integer_dtype(series))
        guess.role, guess.reason = "numeric", f"{'integer' if integer else 'real'} values in [{_plain(non_null.min())}, {_plain(non_null.max())}]"
        guess.spec.update({"type": "int" if pd.api.types.is_integer_dtype(series) else "float", "min": lo, "max": hi})
        return guess
    fmt = _timestamp_format(non_null)
    if fmt:
        guess.role, guess.reason = "timestamp", f"dates in format {fmt}"
        guess.spec["format"] = fmt
        return guess
    text = non_null.astype(str)
    words = float(text.str.split().str.len().median())
    if words >= 6:
        guess.role, guess.reason = "text", f"free text (median {words:.0f} words)"
        return guess
    if unique_ratio > 0.9 or (distinct > MAX_CATEGORIES and text.str.contains(r"\d").mean() > 0.5):
        guess.role, guess.reason = "identity", f"near-unique or code-like ({distinct} distinct of {len(non_null)})"
        return guess
    if distinct <= MAX_CATEGORIES:
        guess.role, guess.reason = "categorical", f"{distinct} distinct values"
        guess.spec["values"] = sorted(_plain(v) for v in non_null.unique())
        return guess
    guess.role, guess.reason = "identity", f"high-cardinality string ({distinct} distinct): kept from models"
    return guess


def _shape(text: str) -> str:
    return re.sub(r"[a-z]", "x", re.sub(r"[A-Z]", "X", re.sub(r"\d", "#", text)))[:20]


def _label_classes(series: pd.Series, target: str, path: Path) -> list[Any]:
    values = series.dropna()
    if values.empty:
        raise SpecError(f"{path}: --target '{target}' is empty in every row: pick the label column")
    if pd.api.types.is_float_dtype(values) and not (values % 1 == 0).all():
        raise SpecError(f"{path}: --target '{target}' holds continuous numbers: init governs classification; "
                        "bin it into classes first")
    if pd.api.types.is_numeric_dtype(values):
        classes = sorted(int(v) for v in values.unique())
    else:
        classes = sorted(str(v) for v in values.unique())
    if len(classes) < 2:
        raise SpecError(f"{path}: --target '{target}' has one class ({classes[0]!r}): a classifier needs two or more")
    if len(classes) > 100:
        raise SpecError(f"{path}: --target '{target}' has {len(classes)} classes: is it the label? pick another column")
    counts = values.value_counts()
    if int(counts.min()) < 10:
        raise SpecError(f"{path}: --target '{target}' class {counts.idxmin()!r} has {int(counts.min())} row(s); "
                        "each class needs at least 10 (merge or drop rare classes)")
    return classes


def _read(data: Path, policy: Policy) -> pd.DataFrame:
    frame, _ = read_table(data, max_bytes=policy.source.max_bytes, encoding=policy.source.encoding)
    return frame


def _pii(frame: pd.DataFrame, policy: Policy) -> dict[str, Any]:
    from mlsecops.controls.data.discretion.pii import scan_table

    sample = frame.head(2000)
    return scan_table(sample, policy.pii).columns


def _yaml_line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_plain)


def render_spec(name: str, description: str, source: str, columns: list[ColumnGuess], target: str,
                classes: list[Any], reference: str, reference_sha256: str, accepted: list[dict[str, Any]],
                review: list[str], budgets: dict[str, Any] | None = None) -> str:
    """The spec file's text: one line per column, comments saying what to review."""
    lines = [f"# Pipeline spec proposed by `mlsecops init` — REVIEW before use:",
             *[f"#   - {note}" for note in review],
             f"name: {name}", f"description: {_yaml_line(description)}", f"source: {{path: {_yaml_line(source)}}}",
             "columns:"]
    for c in columns:
        entry = {"role": c.role, **c.spec}
        lines.append(f"  {_yaml_line(c.name)}: {_yaml_line(entry)}   # {c.reason}")
    lines += [f"label: {{column: {_yaml_line(target)}, classes: {_yaml_line(classes)}}}",
              "model: {architecture: mlp, kwargs: {hidden: 32}}   # or logistic, cnn, package.module:Class (+ path)",
              "# TRUSTED SLICE: a proposed stratified sample of the rows. The team must VOUCH for every row of it (it is what",
              "# the poison screen trusts), then keep the pinned digest: an edited slice stops the pipeline.",
              f"reference: {{path: {_yaml_line(reference)}, sha256: {reference_sha256}}}"]
    if budgets:
        lines.append("# attack budgets sized to this table (budgets, not thresholds: every gate keeps its default)")
        lines.append(f"policy: {_yaml_line(budgets)}")
    if accepted:
        lines.append("# ACCEPTED RISKS proposed by init (a default gate fails on this clean data): a reviewer")
        lines.append("# must confirm each (set confirmed_by) or fix the data/model instead.")
        lines.append("accepted_risks:")
        for risk in accepted:
            lines.append(f"  - {_yaml_line(risk)}")
    return "\n".join(lines) + "\n"


def _nested(key: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return out


def _relaxed(outcome: Any) -> float:
    """A threshold the measured value meets, with a margin (a max-gate rises, a min-gate falls)."""
    value, threshold = float(outcome.value), float(outcome.threshold)
    if value > threshold:      # a maximum was exceeded
        return 1.0 if value >= 0.95 and threshold <= 1 else round(math.ceil((value + 0.05) * 100) / 100, 2)
    return max(0.0, round(math.floor((value - 0.05) * 100) / 100, 2))


WHY = {"model_extraction": "the decision boundary is simple (near-linear), so a copy trained on a few queries "
       "reproduces it; no model of this data avoids that; mitigate at serving with a per-client query cap (AML.M0004)",
       "model_quality": "a default-size model of this data does not reach the default held-out accuracy; the "
       "classes overlap in these features",
       "poisoning_screen": "clean rows near overlapping class boundaries draw votes of the screen",
       "robust_accuracy": "small perturbations of these features cross the boundary for many rows",
       "query_evasion": "query-only evasion finds nearby rows of another class for many rows",
       "membership_inference": "the model separates training from held-out rows more than the default allows"}


def probe_gates(spec_path: Path, policy: Policy, progress: Any = None) -> tuple[list[Any], dict[str, Any]]:
    """Run screen, training and attacks of the proposed spec as the pipeline would; the outcomes."""
    from mlsecops.controls.data.integrity.poisoning import evaluate_screen, screen_table
    from mlsecops.controls.model.adversarial.engine import evaluate_gate, evaluate_model, gates_for, prepare_data
    from mlsecops.core.encoding import prepare_table
    from mlsecops.models.training import train_classifier, train_config
    from mlsecops.stages.screened_data import screen_config

    spec = load_spec_file(spec_path)
    merged = validate_policy(deep_merge(policy.model_dump(exclude={"pipelines"}), spec.policy), Policy)
    schema = spec.schema
    frame, _ = prepare_table(_read(Path(spec.source_file), policy), schema, origin=spec.source_file)
    reference, _ = prepare_table(pd.read_csv(spec.reference.file), schema, origin=spec.reference.file)
    report = screen_table(frame, reference, features=schema.features, label=schema.label,
                          config=screen_config(merged))
    outcomes = evaluate_screen(report.to_dict(), max_flagged_fraction=merged.poisoning.max_flagged_fraction,
                               max_trigger_fraction=merged.poisoning.max_trigger_fraction)
    kept = frame[report.keep_mask]
    X = kept[schema.features].to_numpy(dtype=np.float32)
    y = kept[schema.label].to_numpy(dtype=np.int64)
    result = train_classifier(X, y, {**spec.net, "in_features": X.shape[1], "classes": len(schema.labels)},
                              train_config(merged.training))
    from mlsecops.core.outcome import MODEL_TRAINING, CheckOutcome

    acc, need = result.metrics["test_accuracy"], merged.training.min_test_accuracy
    outcomes.append(CheckOutcome(check="model_quality", passed=acc >= need, value=round(acc, 4), threshold=need,
                                 policy_key="training.min_test_accuracy", control=MODEL_TRAINING,
                                 atlas="", mitigation="", detail=f"probe accuracy {acc:.3f}"))
    attacks = [s for s in spec.stages if s.name == "adversarial_evaluation"][0]
    names = tuple(c.name for c in attacks.checks)
    ran = _attacks_of(spec)
    data = prepare_data(X, y, result.train_index, result.test_index, image_side=spec.net.get("side"))
    evidence = evaluate_model(result.net, data, ran, merged.adversarial, None, progress=progress).to_dict()
    outcomes += [evaluate_gate(g.check, evidence, merged.adversarial) for g in gates_for(ran) if g.check in names]
    return outcomes, {"flagged_fraction": round(report.flagged_fraction, 4), "test_accuracy": round(acc, 4),
                      "rows": int(len(frame)), "features": len(schema.features)}


def _attacks_of(spec: Any) -> tuple[str, ...]:
    from mlsecops.stages.adversarial_evaluation import IMAGE_ATTACKS, TABULAR_ATTACKS

    names = {c.name for s in spec.stages for c in s.checks}
    return IMAGE_ATTACKS if "model_inversion" in names else TABULAR_ATTACKS


def propose_spec(data: Path, target: str, name: str | None = None, out_dir: Path | None = None,
                 force: bool = False, probe: bool = True, progress: Any = None) -> InitResult:
    """Profile `data`, write DIR/NAME.yaml and DIR/NAME.reference.csv; SpecError on bad input (nothing written)."""
    from mlsecops.stages.screened_data import reference_positions

    started = time.monotonic()
    data = Path(data)
    policy = load_policy()
    name = name or re.sub(r"[^a-z0-9_]+", "_", data.stem.lower()).strip("_") or "pipeline"
    if not re.match(NAME_PATTERN, name):
        raise SpecError(f"--name '{name}': use lowercase letters, digits and _ (starting with a letter)")
    out = pipelines_home(out_dir)
    spec_path, ref_path = out / f"{name}.yaml", out / f"{name}.reference.csv"
    for existing in (spec_path, ref_path):
        if existing.exists() and not force:
            raise SpecError(f"{existing} exists: pass --force to overwrite it, or choose another --name")
    frame = _read(data, policy)
    if target not in frame.columns:
        raise SpecError(f"{data}: --target '{target}' is not a column (columns: {', '.join(map(str, frame.columns[:12]))})")
    bad = [c for c in frame.columns if not isinstance(c, str) or not c.strip()]
    if bad:
        raise SpecError(f"{data}: column name(s) {bad[:3]} are empty or not text: give every column a name")
    classes = _label_classes(frame[target], target, data)
    pii = _pii(frame, policy)
    columns = [_classify(c, frame[c], target, pii, data) for c in frame.columns]
    review: list[str] = []
    for c in columns:
        report = pii.get(c.name)
        if c.role == "label" and report is not None and report.classified:
            review.append(f"label '{c.name}' values look like {', '.join(report.classified)}: they are the listed "
                          "classes (a closed set, not scanned at run time); if they are personal, do not use it")
    for c in columns:
        if c.missing > 0:
            if c.role == "label":
                c.spec.update({"missing": "drop", "max_missing": _max_missing(c.missing)})
                review.append(f"label '{c.name}': {c.missing:.1%} missing; those rows are dropped")
            elif c.role in ("numeric", "categorical"):
                series = frame[c.name].dropna()
                fill = (float(series.median()) if c.role == "numeric" else _plain(series.mode().iloc[0]))
                if c.role == "numeric" and c.spec.get("type") == "int":
                    fill = int(round(fill))
                c.spec.update({"missing": "impute", "fill": fill, "max_missing": _max_missing(c.missing)})
                review.append(f"'{c.name}': {c.missing:.1%} missing, imputed with the "
                              f"{'median' if c.role == 'numeric' else 'mode'} {fill!r}")
            else:
                c.spec["max_missing"] = _max_missing(c.missing)
    sensitive = [c.name for c in columns if c.role == "sensitive"]
    if sensitive:
        review.append(f"sensitive attributes (not features, kept for bias evaluation): {', '.join(sensitive)}")
    identity = [c.name for c in columns if c.role in ("identity", "text")]
    if identity:
        review.append(f"kept from every model (identity/text): {', '.join(identity)}")
    review.append("bounds are the observed range widened by 10% of the span: tighten them to what is valid")
    review.append(f"trusted slice {ref_path.name}: a PROPOSED stratified sample of the rows — vouch for every row or replace it")
    inputs = [c.name for c in columns if c.role in ("numeric", "categorical")]
    if not inputs:
        raise SpecError(f"{data}: no numeric or categorical column left once identity/text columns are set aside")

    labelled = frame[frame[target].notna()].reset_index(drop=True)
    labels = labelled[target] if not pd.api.types.is_float_dtype(labelled[target]) else labelled[target].astype(int)
    smallest = int(labels.value_counts().min())
    fraction = min(0.5, max(0.12, 6.5 / smallest))       # the screen needs >= 5 trusted rows per class
    if fraction > 0.12:
        review.append(f"the smallest class has {smallest} rows: the trusted slice takes {fraction:.0%} of the rows "
                      "so that every class has at least 5 trusted rows")
    slice_frame = labelled.iloc[reference_positions(labels.to_numpy(), fraction)][[*inputs, target]].copy()
    slice_frame[target] = labels.iloc[slice_frame.index].to_numpy()
    budgets: dict[str, Any] = {}
    pool = int(len(labelled) * (1 - policy.training.test_fraction) * 0.85)   # train rows left after a screen
    queries = [q for q in policy.adversarial.extraction.queries if q <= pool]
    if queries != list(policy.adversarial.extraction.queries):
        budgets = {"adversarial": {"extraction": {"queries": queries or [max(2, pool // 2)]}}}
        review.append(f"extraction query budgets cut to {budgets['adversarial']['extraction']['queries']} "
                      f"(the table has ~{pool} training rows to query with)")
    out.mkdir(parents=True, exist_ok=True)
    source = os.path.relpath(data.resolve(), out.resolve())
    description = f"Predict {target} from {data.name} (proposed by mlsecops init)"
    tmp_spec = out / f".{name}.init.yaml"
    tmp_ref = out / f".{name}.init.reference.csv"
    try:
        write_bytes_atomic(tmp_ref, slice_frame.to_csv(index=False).encode("utf-8"))
        ref_sha = sha256_file(tmp_ref)
        text = render_spec(name, description, source, columns, target, classes, tmp_ref.name, ref_sha, [], review,
                           budgets)
        write_bytes_atomic(tmp_spec, text.encode("utf-8"))
        accepted: list[dict[str, Any]] = []
        measured: dict[str, Any] = {}
        if probe:
            outcomes, measured = probe_gates(tmp_spec, policy, progress)
            for o in outcomes:
                if o.passed:
                    continue
                new = _relaxed(o)
                accepted.append({"check": o.check, "reason": (
                    f"init measured {o.value} against {o.policy_key} {o.threshold} on this data: "
                    f"{WHY.get(o.check, 'the default gate fails on this clean data')}; proposed {new}"),
                    "policy": _nested(o.policy_key, new)})
            if accepted:
                review.append(f"{len(accepted)} default gate(s) fail on this data: accepted_risks entries written "
                              f"({', '.join(a['check'] for a in accepted)}) — a reviewer must confirm them")
        text = render_spec(name, description, source, columns, target, classes, ref_path.name, ref_sha,
                           accepted, review, budgets)
        write_bytes_atomic(tmp_spec, text.encode("utf-8"))
        os.replace(tmp_ref, ref_path)
        os.replace(tmp_spec, spec_path)
        load_spec_file(spec_path)
    finally:
        for leftover in (tmp_spec, tmp_ref):
            leftover.unlink(missing_ok=True)
    return InitResult(name, spec_path, ref_path, columns, classes, review, accepted, measured,
                      time.monotonic() - started)
