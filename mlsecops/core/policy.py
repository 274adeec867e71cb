"""Policy machinery: sections, per-pipeline overrides, validation with errors that name the key.

    class Policy(PolicyBase):             # composed in mlsecops.policy from each family's section
        pii: PiiPolicy = PiiPolicy()
    policy = load_policy_file(path, Policy)

Each control family declares its own `Section` next to its code; core imports no control.
Unknown keys and bad values are errors that name the key. A `pipelines:` section overrides any
value for one pipeline; it is merged over the global values and validated the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlsecops.core.errors import PolicyError
from mlsecops.core.fileio import canonical_json, sha256_bytes

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "policy.yaml"
P = TypeVar("P", bound="PolicyBase")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyBase(Section):
    """The top level: a version, the families' sections (in a subclass) and per-pipeline overrides."""

    version: int = Field(1, ge=1, le=1)
    pipelines: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def for_pipeline(self: P, name: str) -> P:
        """The policy with `pipelines.<name>` merged over the global values (validated)."""
        override = deep_merge(_SPEC_DEFAULTS.get(name, {}), self.pipelines.get(name) or {})
        if not override:
            return self
        merged = deep_merge(self.model_dump(exclude={"pipelines"}), override)
        return validate_policy(merged, type(self), f"pipelines.{name}.")

    @property
    def digest(self) -> str:
        return sha256_bytes(canonical_json(self.model_dump(mode="json")))


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` merged over `base`, mapping by mapping."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# Per-pipeline defaults declared by pipeline spec files (`policy:`, `training:`, accepted risks), set by
# the pipeline registry when it discovers the specs. The policy file's `pipelines.<name>` wins over them.
_SPEC_DEFAULTS: dict[str, dict[str, Any]] = {}


def register_pipeline_defaults(name: str, overrides: dict[str, Any]) -> None:
    """Record the policy values a pipeline's spec file declares (replacing earlier ones)."""
    _SPEC_DEFAULTS[name] = dict(overrides)


def validate_policy(raw: Any, model: type[P], prefix: str = "", origin: str = "policy") -> P:
    """Validate a mapping as `model`; every problem is reported with its dotted key."""
    if not isinstance(raw, dict):
        raise PolicyError(f"{origin}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = prefix + ".".join(str(p) for p in err["loc"])
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{key}: {msg}")
        raise PolicyError(f"{origin}: " + "; ".join(problems)) from None


def load_policy_file(chosen: Path, model: type[P]) -> P:
    """Load and validate the YAML policy at `chosen` (overrides validated now, not at first use)."""
    try:
        text = chosen.read_text(encoding="utf-8")
        key = (str(chosen), model.__qualname__, sha256_bytes(text.encode()))
        if key in _LOADED:  # the same bytes validate to the same (frozen) policy: every step reads the file
            return _LOADED[key]
        raw = yaml.safe_load(text)
    except FileNotFoundError:
        raise PolicyError(f"policy file {chosen} not found (set MLSECOPS_POLICY to an existing file)") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"policy file {chosen} is unreadable: {exc}") from None
    policy = validate_policy(raw or {}, model, origin=str(chosen))
    for name in policy.pipelines:
        policy.for_pipeline(name)
    _LOADED[key] = policy
    return policy


# (path, model, sha256 of its text) -> the validated policy; a changed file is parsed and validated again.
_LOADED: dict[tuple[str, str, str], Any] = {}
