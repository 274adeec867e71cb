"""Pipeline spec files: a YAML declaration of data, roles, model, trusted slice and policy, validated with pydantic.

    spec = load_spec_file(Path("pipelines/cars.yaml"))      # -> PipelineSpec, or SpecError naming file, key and fix
    spec.schema.features, spec.net, spec.policy, spec.origin  # origin: spec digest, model code digest, accepted risks

A spec file (see README "Govern your own pipeline"; `mlsecops init` writes one):

    name: cars
    description: Origin of a car from its specs.
    source: {path: cars.csv}                   # relative to the spec file; a glob of CSV/Parquet files;
                                               # or {url: sqlite:///db.sqlite, query: "select …"}
    columns:                                   # every source column, in order, with its role
      Name: {role: identity}
      Horsepower: {role: numeric, type: float, min: 0, max: 460, missing: impute, fill: 93.5, max_missing: 0.05}
      Cylinders: {role: categorical, values: [3, 4, 5, 6, 8]}
      Year: {role: timestamp, format: "%Y-%m-%d"}
      Origin: {role: label}
    label: {column: Origin, classes: [Europe, Japan, USA]}
    model: {architecture: mlp, kwargs: {hidden: 32}}      # or mlp | cnn | logistic | package.module:Class (+ path)
    training: {epochs: 40}                                 # policy `training:` values for this pipeline
    reference: {path: cars.reference.csv, sha256: …}       # the trusted slice and its pinned digest
    attacks: [fgsm, pgd, membership, copycat, hopskipjump]
    policy: {adversarial: {samples: 100}}                  # any policy values, for this pipeline only
    accepted_risks:                                        # explicit, with the reason, for the reviewer
      - {check: model_quality, reason: "…", policy: {training: {min_test_accuracy: 0.7}}}

Roles: numeric, categorical, text, identity, timestamp, label, sensitive, ignore. Values from the
policy file's own `pipelines.<name>` section still win over the spec's.
"""

from __future__ import annotations

import glob
import importlib
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlsecops.core.errors import MlsecopsError
from mlsecops.core.fileio import sha256_bytes, sha256_file
from mlsecops.core.policy import deep_merge
from mlsecops.core.schema import DEFAULT_TIMESTAMP_FORMAT, Column, TableSchema
from mlsecops.stages.adversarial_evaluation import IMAGE_ATTACKS, TABULAR_ATTACKS
from mlsecops.stages.chain import standard_stages
from mlsecops.stages.framework import PipelineSpec, ReferenceSlice

ROLES = ("numeric", "categorical", "text", "identity", "timestamp", "label", "sensitive", "ignore")
SCHEMA_ROLE = {"numeric": "feature", "categorical": "categorical", "text": "text", "identity": "identity",
               "timestamp": "timestamp", "label": "label", "sensitive": "sensitive", "ignore": "metadata"}
BUILTIN_MODELS = ("mlp", "cnn", "logistic")
KNOWN_ATTACKS = tuple(dict.fromkeys(IMAGE_ATTACKS + TABULAR_ATTACKS))
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
GENERATOR_PACKAGE = "mlsecops."   # source generators are project code only; a team's code is its model


class SpecError(MlsecopsError):
    """A pipeline spec file is unreadable or invalid; the message names the file, the key and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Strict):
    path: str | None = Field(None, description="CSV/Parquet file or glob, relative to the spec file")
    url: str | None = Field(None, description="SQLAlchemy URL (with `query`)")
    query: str | None = None
    generator: str | None = Field(None, description="mlsecops.module:function writing the reference source")
    file: str | None = Field(None, description="with `generator`: file name under $MLSECOPS_HOME/sources")


class ColumnSpec(_Strict):
    role: Literal["numeric", "categorical", "text", "identity", "timestamp", "label", "sensitive", "ignore"]
    type: Literal["int", "float", "text", "datetime"] | None = None
    min: float | None = None
    max: float | None = None
    values: list[Any] | None = None
    missing: Literal["reject", "impute", "drop"] = "reject"
    fill: Any = None
    max_missing: float | None = Field(None, ge=0, le=1)
    format: str | None = None
    nullable: bool = False


class LabelSpec(_Strict):
    column: str
    classes: list[str | int] = Field(min_length=2)


class ModelSpec(_Strict):
    architecture: str = "mlp"
    kwargs: dict[str, Any] = Field(default_factory=dict)
    path: str = Field(".", description="folder (relative to the spec file) that `package.module:Class` is imported from")


class ReferenceSpec(_Strict):
    path: str | None = None
    generator: str | None = None
    file: str | None = None
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class AcceptedRisk(_Strict):
    check: str
    reason: str = Field(min_length=10)
    policy: dict[str, Any] = Field(default_factory=dict)
    confirmed_by: str | None = Field(None, description="the reviewer who confirmed it (init leaves it empty)")


class SpecFile(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    source: SourceSpec
    columns: dict[str, ColumnSpec] = Field(min_length=2)
    label: LabelSpec
    model: ModelSpec = ModelSpec()
    training: dict[str, Any] = Field(default_factory=dict)
    reference: ReferenceSpec
    attacks: list[str] | None = None
    policy: dict[str, Any] = Field(default_factory=dict)
    accepted_risks: list[AcceptedRisk] = Field(default_factory=list)

    @field_validator("attacks")
    @classmethod
    def _known_attacks(cls, value: list[str] | None) -> list[str] | None:
        unknown = [a for a in value or () if a not in KNOWN_ATTACKS]
        if unknown:
            raise ValueError(f"unknown attack(s) {unknown}; known: {list(KNOWN_ATTACKS)}")
        return value


_FIX = {"extra_forbidden": "remove it or check its spelling", "missing": "add it",
        "literal_error": "use one of the listed values"}


def _pydantic_error(path: Path, exc: ValidationError) -> SpecError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        parent = SpecFile
        for part in err["loc"][:-1]:
            field = getattr(parent, "model_fields", {}).get(str(part))
            ann = getattr(field, "annotation", None) if field else None
            parent = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else (ColumnSpec if parent is SpecFile and part == "columns" else parent)
        allowed = ", ".join(getattr(parent, "model_fields", {}))
        msg = f"unknown key; allowed here: {allowed}"
    else:
        msg = f"{err['msg']}; {_FIX.get(err['type'], 'fix the value')}"
    more = f" (+{len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    return SpecError(f"{path}: {key}: {msg}{more}")


def read_spec_file(path: Path) -> tuple[SpecFile, bytes]:
    """Parse and validate the YAML (structure only); SpecError names the file and key."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        doc = yaml.safe_load(raw.decode("utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: spec file not found") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 (byte offset {exc.start}): save the spec as UTF-8") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{path}: expected a mapping (name, source, columns, label, …) at the top level")
    try:
        return SpecFile.model_validate(doc), raw
    except ValidationError as exc:
        raise _pydantic_error(path, exc) from None


def _generator(path: Path, key: str, ref: str) -> Callable[[Path], None]:
    if not ref.startswith(GENERATOR_PACKAGE) or ref.count(":") != 1:
        raise SpecError(f"{path}: {key}: generator '{ref}' must be an mlsecops module:function "
                        "(your own data goes in `path` or `url`)")
    module, func = ref.split(":")
    try:
        target = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"{path}: {key}: cannot import '{ref}': {exc}") from None
    return target


def _columns(path: Path, spec: SpecFile) -> tuple[Column, ...]:
    out = []
    label_seen = False
    for name, c in spec.columns.items():
        where = f"{path}: columns.{name}"
        role = SCHEMA_ROLE[c.role]
        if c.role == "label":
            if name != spec.label.column:
                raise SpecError(f"{where}: role label, but label.column is '{spec.label.column}': one label column")
            label_seen = True
        if c.role == "categorical" and not c.values:
            raise SpecError(f"{where}: a categorical column needs `values` (its vocabulary): list them")
        if c.missing == "impute" and c.fill is None:
            raise SpecError(f"{where}: missing: impute needs `fill` (the median or mode to write): add it")
        if c.values is not None and c.fill is not None and c.role == "categorical" and c.fill not in c.values:
            raise SpecError(f"{where}: fill {c.fill!r} is not one of its values: use one of {c.values}")
        if c.min is not None and c.max is not None and c.min > c.max:
            raise SpecError(f"{where}: min {c.min} > max {c.max}: swap them")
        kind = c.type or {"numeric": "float", "timestamp": "datetime"}.get(c.role, "text")
        if c.role == "label":
            kind = "int" if all(isinstance(v, int) for v in spec.label.classes) else "text"
        if c.role == "numeric" and kind not in ("int", "float"):
            raise SpecError(f"{where}: a numeric column has type int or float, not {kind}")
        max_missing = c.max_missing if c.max_missing is not None else (1.0 if c.missing != "reject" else None)
        out.append(Column(name, kind, role, c.min, c.max, c.nullable, tuple(c.values) if c.values else None,
                          c.missing, c.fill, max_missing,
                          (c.format or DEFAULT_TIMESTAMP_FORMAT) if c.role == "timestamp" else c.format))
    if not label_seen:
        raise SpecError(f"{path}: columns.{spec.label.column}: the label column is not declared with role: label; "
                        "add it to columns")
    if not any(c.role in ("feature", "categorical") for c in out):
        raise SpecError(f"{path}: columns: no numeric or categorical column: a model needs at least one feature")
    return tuple(out)


def _source(path: Path, spec: SpecFile) -> tuple[str, Callable[[Path], None] | None, dict[str, Any]]:
    s = spec.source
    given = [k for k in ("path", "url", "generator") if getattr(s, k)]
    if len(given) != 1:
        raise SpecError(f"{path}: source: give exactly one of path, url (+ query) or generator, not {given or 'none'}")
    if s.generator:
        if not s.file:
            raise SpecError(f"{path}: source.file: a generator needs the file name it writes under sources: add it")
        return s.file, _generator(path, "source.generator", s.generator), {"generator": s.generator}
    if s.url:
        if not s.query:
            raise SpecError(f"{path}: source.query: a SQLAlchemy url needs a query: add `query: select …`")
        digest = sha256_bytes(f"{s.url}\n{s.query}".encode())[:16]
        return f"{spec.name}-{digest}.parquet", _sql_writer(s.url, s.query), {"url": _redact_url(s.url), "query": s.query}
    pattern = str((path.parent / s.path).resolve()) if not Path(s.path).is_absolute() else s.path
    if any(ch in s.path for ch in "*?["):
        return f"{spec.name}-glob.parquet", _glob_writer(pattern, path), {"glob": pattern}
    return pattern, None, {"path": pattern}


def _redact_url(url: str) -> str:
    """The URL without a password (evidence never holds credentials)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _sql_writer(url: str, query: str) -> Callable[[Path], None]:
    def write(target: Path) -> None:
        import pandas as pd
        import sqlalchemy

        from mlsecops.core.fileio import atomic_path

        engine = sqlalchemy.create_engine(url)
        try:
            frame = pd.read_sql_query(sqlalchemy.text(query), engine)
        finally:
            engine.dispose()
        with atomic_path(target) as tmp:
            frame.to_parquet(tmp, index=False)
    return write


def _glob_writer(pattern: str, spec_path: Path) -> Callable[[Path], None]:
    def write(target: Path) -> None:
        import pyarrow as pa
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        from mlsecops.core.fileio import atomic_path

        files = sorted(glob.glob(pattern))
        if not files:
            raise SpecError(f"{spec_path}: source.path: no file matches {pattern}")
        fmt = "parquet" if files[0].endswith(".parquet") else "csv"
        table = ds.dataset(files, format=fmt).to_table()
        with atomic_path(target) as tmp:
            pq.write_table(table if isinstance(table, pa.Table) else pa.Table.from_batches(table), tmp)
    return write


def _model(path: Path, spec: SpecFile, in_features: int, classes: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    arch = spec.model.architecture
    net: dict[str, Any] = {"architecture": arch, **spec.model.kwargs}
    code = None
    if ":" in arch:
        from mlsecops.models.custom import code_record

        project = (path.parent / spec.model.path).resolve()
        try:
            code = code_record(arch, project)
        except MlsecopsError as exc:
            raise SpecError(f"{path}: model.architecture: {exc}") from None
        net["code"] = code
    elif arch not in BUILTIN_MODELS:
        raise SpecError(f"{path}: model.architecture: unknown model '{arch}': use one of {list(BUILTIN_MODELS)} "
                        "or package.module:Class")
    from mlsecops.models.nets import build_net

    try:
        build_net({**net, "in_features": in_features, "classes": classes})
    except MlsecopsError as exc:
        raise SpecError(f"{path}: model: {exc}") from None
    except (TypeError, ValueError, RuntimeError) as exc:
        raise SpecError(f"{path}: model.kwargs: {arch} cannot be built with {spec.model.kwargs}: {exc}") from None
    return net, code


def _policy(path: Path, spec: SpecFile) -> dict[str, Any]:
    from mlsecops.core.policy import validate_policy
    from mlsecops.policy import Policy

    overrides = dict(spec.policy)
    if spec.training:
        overrides = deep_merge(overrides, {"training": spec.training})
    for i, risk in enumerate(spec.accepted_risks):
        overrides = deep_merge(overrides, risk.policy)
    try:
        validate_policy(deep_merge(Policy().model_dump(exclude={"pipelines"}), overrides), Policy, origin=f"{path}: policy")
    except MlsecopsError as exc:
        raise SpecError(str(exc).replace(": policy: ", ": policy.", 1)) from None
    return overrides


def load_spec_file(path: Path) -> PipelineSpec:
    """The PipelineSpec a spec file declares; every check runs before anything is registered."""
    path = Path(path).resolve()
    spec, raw = read_spec_file(path)
    columns = _columns(path, spec)
    labels = tuple(spec.label.classes)
    if len(set(labels)) != len(labels):
        raise SpecError(f"{path}: label.classes: duplicate classes in {list(labels)}: list each once")
    schema = TableSchema(spec.name, columns, labels)
    source_file, make_source, source_record = _source(path, spec)
    r = spec.reference
    if r.generator:
        if not r.file:
            raise SpecError(f"{path}: reference.file: a generator needs the file name it writes: add it")
        reference = ReferenceSlice(r.file, _generator(path, "reference.generator", r.generator), r.sha256)
    elif r.path:
        ref_path = (path.parent / r.path).resolve()
        if not r.sha256:
            raise SpecError(f"{path}: reference.sha256: pin the trusted slice's digest (sha256sum {ref_path})")
        reference = ReferenceSlice(str(ref_path), None, r.sha256)
    else:
        raise SpecError(f"{path}: reference: give the trusted slice's path and sha256")
    net, code = _model(path, spec, len(schema.features), len(labels))
    attacks = tuple(spec.attacks) if spec.attacks else (IMAGE_ATTACKS if spec.model.architecture == "cnn" else TABULAR_ATTACKS)
    origin = {"file": str(path), "sha256": sha256_bytes(raw), "source": source_record,
              "model": {"architecture": spec.model.architecture, "code": code},
              "label_mapping": {str(v): i for i, v in enumerate(labels)},
              "accepted_risks": [r.model_dump() for r in spec.accepted_risks]}
    return PipelineSpec(name=spec.name, description=spec.description or f"Pipeline spec {path.name}",
                        schema=schema, source_file=source_file, make_source=make_source, net=net,
                        stages=standard_stages(attacks), reference=reference,
                        policy=_policy(path, spec), origin=origin)


def spec_digest(path: Path) -> str:
    """sha256 of a spec file's bytes (what a trust policy pins)."""
    return sha256_file(Path(path))

