"""The policy: every control's thresholds, validated on load.

    policy = load_policy()                    # $MLSECOPS_POLICY or the packaged policy.yaml
    policy.for_pipeline("digits").training.min_test_accuracy

Unknown keys and bad values are errors that name the key. A `pipelines:` section overrides
any value for one pipeline; it is merged over the global values and validated the same way.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlsecops.errors import PolicyError
from mlsecops.fileio import canonical_json, sha256_bytes

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourcePolicy(Section):
    max_bytes: int = Field(100 * 2**20, gt=0, description="largest source file accepted")
    encoding: str = "utf-8"


class ValidationPolicy(Section):
    min_rows: int = Field(100, ge=1)
    max_null_fraction: float = Field(0.0, ge=0, le=1, description="per feature column")


class TrainingPolicy(Section):
    seed: int = 7
    test_fraction: float = Field(0.25, gt=0, lt=1)
    epochs: int = Field(60, ge=1, le=10_000)
    learning_rate: float = Field(0.01, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    batch_size: int = Field(64, ge=1)
    threads: int = Field(1, ge=0, description="torch threads while fitting (0: torch's default); fixes the digest")
    min_test_accuracy: float = Field(0.9, ge=0, le=1)


class PoisoningPolicy(Section):
    """The poisoning screen (controls/poisoning.py): blocking limits, then the screen's own cuts."""

    max_flagged_fraction: float = Field(0.03, ge=0, le=1, description="quarantined share that blocks (AML.T0020)")
    max_trigger_fraction: float = Field(0.005, ge=0, le=1, description="rows sharing a trigger (AML.T0043.004)")
    harm_quantile: float = Field(0.98, ge=0, le=1)
    max_label_probability: float = Field(0.1, ge=0, le=1)
    min_neighbour_agreement: float = Field(0.4, ge=0, le=1)
    spectral_factor: float = Field(2.0, gt=0)
    min_votes: int = Field(2, ge=1, le=4)
    strong_label_probability: float = Field(0.02, ge=0, le=1)
    rare_quantile: float = Field(0.95, ge=0, le=1)
    neighbours: int = Field(10, ge=1)
    reference_folds: int = Field(5, ge=3)
    c_harm: float = Field(0.01, gt=0)
    c_label: float = Field(1.0, gt=0)
    trigger_share: float = Field(0.8, ge=0, le=1)
    trigger_min_rows: int = Field(5, ge=2)
    campaign_alarm_rate: float = Field(0.02, ge=0, le=1)
    campaign_p_value: float = Field(0.001, ge=0, le=1)
    campaign_label_probability: float = Field(0.5, ge=0, le=1)
    seed: int = 0


class SigningPolicy(Section):
    identity: str = Field("trainer", min_length=1, description="identity whose key signs models")


ArtifactFormat = Literal["safetensors", "json", "text", "parquet", "empty"]
ArtifactScanner = Literal["picklescan", "fickling", "modelscan"]


class ScanningPolicy(Section):
    allowed_formats: tuple[ArtifactFormat, ...] = Field(
        ("safetensors", "json"), min_length=1, description="non-executable formats allowed, judged by content")
    scanners: tuple[ArtifactScanner, ...] = Field(
        ("picklescan", "fickling", "modelscan"), min_length=1, description="scanners that must run on every artifact")


class EvasionBudget(Section):
    eps: tuple[float, ...] = Field((0.01, 0.02, 0.05, 0.1), min_length=1,
                                   description="L-inf budgets as a fraction of each feature's range")
    pgd_max_iter: int = Field(10, ge=1, le=200)
    gate_eps: float = Field(0.02, gt=0, le=1, description="the budget the robust-accuracy gate reads")
    min_robust_accuracy: float = Field(0.6, ge=0, le=1, description="worst of FGSM/PGD at gate_eps")

    @model_validator(mode="after")
    def _gate_eps_listed(self) -> "EvasionBudget":
        if any(not 0 < e <= 1 for e in self.eps):
            raise ValueError(f"every eps must be in (0, 1], got {list(self.eps)}")
        if self.gate_eps not in self.eps:
            raise ValueError(f"gate_eps {self.gate_eps} must be one of eps {list(self.eps)}")
        return self


class HopSkipJumpBudget(Section):
    samples: int = Field(10, ge=1, le=500, description="correctly classified held-out rows attacked")
    max_iter: int = Field(5, ge=1, le=100)
    max_eval: int = Field(200, ge=10, le=10_000)
    init_eval: int = Field(20, ge=1, le=1_000)
    l2_bound: float | None = Field(None, gt=0, description="an evasion counts if its L2 distance (unit range) is "
                                   "within; default: the L2 size of the L-inf gate, gate_eps * sqrt(features)")
    max_success_rate: float = Field(0.5, ge=0, le=1, description="share of rows evaded within l2_bound")


class MembershipBudget(Section):
    attack_model: Literal["gb", "rf", "lr", "nn"] = "gb"
    max_rows: int = Field(400, ge=20, description="members and non-members each, at most")
    bootstrap: int = Field(200, ge=20, le=5_000)
    max_advantage: float = Field(0.15, ge=-1, le=1, description="TPR - FPR of the attack on held-out rows")


class ExtractionBudget(Section):
    queries: tuple[int, ...] = Field((10, 25, 50, 100, 200), min_length=1)
    epochs: int = Field(20, ge=1, le=1_000)
    gate_queries: int = Field(10, ge=1, description="budget the gate reads; unset: the smallest of queries")
    max_agreement: float = Field(0.98, ge=0, le=1, description="stolen/victim agreement at gate_queries")

    @model_validator(mode="before")
    @classmethod
    def _gate_defaults_to_smallest(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("gate_queries") is None:
            queries = data.get("queries") or cls.model_fields["queries"].default
            if all(isinstance(q, int) for q in queries):
                data = {**data, "gate_queries": min(queries)}
        return data

    @model_validator(mode="after")
    def _gate_listed(self) -> "ExtractionBudget":
        if any(q < 1 for q in self.queries):
            raise ValueError(f"every query budget must be >= 1, got {list(self.queries)}")
        if self.gate_queries not in self.queries:
            raise ValueError(f"gate_queries {self.gate_queries} must be one of queries {list(self.queries)}")
        return self


class InversionBudget(Section):
    max_iter: int = Field(100, ge=1, le=10_000)
    learning_rate: float = Field(0.1, gt=0)
    max_similarity: float = Field(0.9, ge=-1, le=1, description="mean cosine of reconstruction to class mean")


class CorruptionBudget(Section):
    kinds: dict[str, float] = Field(default_factory=lambda: {"gaussian_noise": 0.1, "gaussian_blur": 0.6,
                                                             "contrast": 0.5, "dropout": 0.1}, min_length=1)
    min_accuracy: float = Field(0.8, ge=0, le=1, description="accuracy under the worst corruption")


class AdversarialPolicy(Section):
    seed: int = 7
    samples: int = Field(200, ge=10, description="held-out rows attacked by evasion and corruptions, at most")
    evasion: EvasionBudget = EvasionBudget()
    hopskipjump: HopSkipJumpBudget = HopSkipJumpBudget()
    membership: MembershipBudget = MembershipBudget()
    extraction: ExtractionBudget = ExtractionBudget()
    inversion: InversionBudget = InversionBudget()
    corruptions: CorruptionBudget = CorruptionBudget()


class PromotionPolicy(Section):
    alias: str = Field("production", min_length=1)
    identity: str = Field("promoter", min_length=1, description="identity whose key signs promotion decisions")


PiiAction = Literal["drop", "mask", "replace", "pseudonymize", "block"]


class PiiPolicy(Section):
    """Discretion: what counts as PII, how it is found (offline) and what happens to it."""

    locale: str = Field("en_US", pattern=r"^[a-z]{2}_[A-Z]{2}$",
                        description="selects language and country-specific recognizers")
    nlp_engine: Literal["builtin", "spacy"] = Field(
        "builtin", description="builtin: name/place gazetteers, no model; spacy: an installed spaCy model")
    spacy_model: str = Field("en_core_web_lg", min_length=1, description="used when nlp_engine is spacy")
    gazetteers: bool = Field(True, description="keep the name/place recognizers when nlp_engine is spacy")
    entities: tuple[str, ...] = ("PERSON", "LOCATION", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN",
                                 "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "DATE_OF_BIRTH", "US_ITIN")
    min_score: float = Field(0.5, gt=0, le=1, description="findings below this confidence are ignored")
    sample_size: int = Field(500, ge=10, description="distinct values scanned per structured column")
    min_hit_rate: float = Field(0.05, gt=0, le=1, description="share of sampled values that classifies a column")
    free_text_min_words: int = Field(6, ge=2, description="median words per value that makes a column free text")
    free_text_columns: tuple[str, ...] = ()
    identity_columns: tuple[str, ...] = ()
    identity_action: Literal["drop", "pseudonymize"] = "drop"
    actions: dict[str, PiiAction] = Field(default_factory=lambda: {
        "PERSON": "pseudonymize", "EMAIL_ADDRESS": "pseudonymize", "PHONE_NUMBER": "mask",
        "US_SSN": "drop", "US_ITIN": "drop", "CREDIT_CARD": "drop", "IBAN_CODE": "drop",
        "LOCATION": "replace", "IP_ADDRESS": "mask", "DATE_OF_BIRTH": "replace"})
    default_action: PiiAction = "replace"
    unexpected_pii: Literal["redact", "block"] = Field(
        "block", description="PII in a column not declared identity/free text: redact it, or also fail the gate")
    max_remaining: int = Field(0, ge=0, description="findings allowed in the redacted output")
    chunk_chars: int = Field(100_000, ge=1_000, description="huge cells are scanned in chunks of this size")
    key_name: str = Field("pii-hmac", pattern=r"^[A-Za-z0-9_.-]+$", description="HMAC key file under keys/")


class ApprovalPolicy(Section):
    required: int = Field(1, ge=1, le=20, description="distinct identities whose valid approval promotion needs")
    required_roles: tuple[str, ...] = Field(("release-manager",), description="each needs one valid approval")
    roles: dict[str, tuple[str, ...]] = Field(default_factory=lambda: {"release-manager": ("demo-approver",)},
                                              description="role -> identities that hold it")
    max_validity_hours: float = Field(168.0, gt=0, description="longest an approval may be valid")
    max_clock_skew_seconds: float = Field(300.0, ge=0)

    @model_validator(mode="after")
    def _roles_defined(self) -> "ApprovalPolicy":
        undefined = [r for r in self.required_roles if r not in self.roles]
        if undefined:
            raise ValueError(f"required_roles {undefined} are not defined in approvals.roles")
        return self


class AuditPolicy(Section):
    checkpoint_every: int = Field(1000, ge=1, description="sign the log head every N records")


class ReportPolicy(Section):
    max_risk_level: Literal["low", "medium", "high", "critical"] = Field(
        "medium", description="highest risk level of a failing control the release accepts")
    min_area_coverage: float = Field(
        0.4, ge=0, le=1, description="share of the framework's control areas that must have evidence")
    history_runs: int = Field(20, ge=0, le=1000, description="previous runs shown in the posture trend")
    default_severity: Literal["low", "medium", "high", "critical"] = Field(
        "medium", description="severity of a check that names no known ATLAS technique")
    severity: dict[str, Literal["low", "medium", "high", "critical"]] = Field(
        default_factory=dict, description="severity override per ATLAS technique id")


class Policy(Section):
    version: int = Field(1, ge=1, le=1)
    source: SourcePolicy = SourcePolicy()
    validation: ValidationPolicy = ValidationPolicy()
    poisoning: PoisoningPolicy = PoisoningPolicy()
    training: TrainingPolicy = TrainingPolicy()
    signing: SigningPolicy = SigningPolicy()
    scanning: ScanningPolicy = ScanningPolicy()
    adversarial: AdversarialPolicy = AdversarialPolicy()
    promotion: PromotionPolicy = PromotionPolicy()
    pii: PiiPolicy = PiiPolicy()
    approvals: ApprovalPolicy = ApprovalPolicy()
    audit: AuditPolicy = AuditPolicy()
    report: ReportPolicy = ReportPolicy()
    pipelines: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def for_pipeline(self, name: str) -> "Policy":
        """The policy with `pipelines.<name>` merged over the global values (validated)."""
        override = self.pipelines.get(name)
        if not override:
            return self
        merged = _deep_merge(self.model_dump(exclude={"pipelines"}), override)
        return _validate(merged, f"pipelines.{name}.")

    @property
    def digest(self) -> str:
        return sha256_bytes(canonical_json(self.model_dump(mode="json")))


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate(raw: Any, prefix: str = "", origin: str = "policy") -> Policy:
    if not isinstance(raw, dict):
        raise PolicyError(f"{origin}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = prefix + ".".join(str(p) for p in err["loc"])
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{key}: {msg}")
        raise PolicyError(f"{origin}: " + "; ".join(problems)) from None


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate the policy from `path`, `$MLSECOPS_POLICY` or the packaged default."""
    chosen = Path(path or os.environ.get("MLSECOPS_POLICY") or DEFAULT_POLICY)
    try:
        text = chosen.read_text(encoding="utf-8")
        key = (str(chosen), hashlib.sha256(text.encode()).hexdigest())
        if key in _LOADED:  # the same bytes validate to the same (frozen) policy: every step reads the file
            return _LOADED[key]
        raw = yaml.safe_load(text)
    except FileNotFoundError:
        raise PolicyError(f"policy file {chosen} not found (set MLSECOPS_POLICY to an existing file)") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"policy file {chosen} is unreadable: {exc}") from None
    policy = _validate(raw or {}, origin=str(chosen))
    for name in policy.pipelines:  # validate overrides now, not at first use
        policy.for_pipeline(name)
    _LOADED[key] = policy
    return policy


# (path, sha256 of its text) -> the validated policy; a changed file is parsed and validated again.
_LOADED: dict[tuple[str, str], Policy] = {}
