"""The risk vocabulary the report maps evidence onto: MITRE ATLAS techniques and mitigations,
and the AI security risk assessment framework's control areas.

Data only. The techniques listed here are the report's scope for gap analysis: a technique
that no check of a run names is reported as a gap. Severity is the impact if the technique
succeeds against this kind of system (a model trained on tabular/image data and promoted for
inference); the policy (`report.severity`) can override it per technique.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlsecops.core.outcome import (
    BUSINESS_CONTINUITY,
    DATA_COLLECTION,
    DATA_PROCESSING,
    INCIDENT_MANAGEMENT,
    MODEL_DEPLOYMENT,
    MODEL_TRAINING,
    MONITORING,
)

SEVERITIES = ("low", "medium", "high", "critical")
LIKELIHOODS = ("rare", "unlikely", "likely", "almost certain")
RISK_LEVELS = ("none", "low", "medium", "high", "critical")

# likelihood -> severity -> risk level (a conventional 4x4 matrix; a passed control is "rare").
RISK_MATRIX: dict[str, dict[str, str]] = {
    "rare":           {"low": "low", "medium": "low", "high": "low", "critical": "low"},
    "unlikely":       {"low": "low", "medium": "low", "high": "medium", "critical": "high"},
    "likely":         {"low": "low", "medium": "medium", "high": "high", "critical": "critical"},
    "almost certain": {"low": "medium", "medium": "high", "high": "critical", "critical": "critical"},
}

# Ids inside an outcome's `atlas` / `mitigation` text (which may also carry prose).
TECHNIQUE_ID = re.compile(r"\bAML\.T\d{4}(?:\.\d{3})?(?![\d.])")
MITIGATION_ID = re.compile(r"\b(?:AML\.)?M\d{4}\b")


@dataclass(frozen=True)
class Technique:
    id: str
    name: str
    severity: str
    mitigations: tuple[str, ...]
    area: str
    remediation: str


TECHNIQUES: dict[str, Technique] = {t.id: t for t in (
    Technique("AML.T0010", "AI Supply Chain Compromise", "critical", ("AML.M0013", "AML.M0014", "AML.M0023"),
              DATA_COLLECTION, "Pin and verify every input by digest (data provenance manifest, signed model, "
              "SBOM); refuse artifacts whose origin is not recorded."),
    Technique("AML.T0011.000", "User Execution: Unsafe AI Artifacts", "critical", ("AML.M0014", "AML.M0016"),
              MODEL_DEPLOYMENT, "Ship weights only as safetensors, scan every artifact with several scanners and "
              "never load a pickle; rebuild the artifact from verified sources."),
    Technique("AML.T0020", "Poison Training Data", "high", ("AML.M0007", "AML.M0025"),
              DATA_PROCESSING, "Inspect the quarantined rows, fix or drop them at the source, re-run the "
              "screening, and retrain from the cleaned data."),
    Technique("AML.T0043.004", "Craft Adversarial Data: Insert Backdoor Trigger", "high", ("AML.M0007",),
              MODEL_TRAINING, "Screen training data for trigger patterns and retrain from a trusted subset."),
    Technique("AML.T0015", "Evade AI Model", "medium", ("AML.M0003", "AML.M0015"),
              MODEL_TRAINING, "Harden the model (adversarial training, input preprocessing) until adversarial "
              "accuracy meets the policy, or narrow the deployment's exposure."),
    Technique("AML.T0043", "Craft Adversarial Data", "medium", ("AML.M0003", "AML.M0015"),
              MODEL_TRAINING, "Evaluate against stronger attacks and harden the model (adversarial training)."),
    Technique("AML.T0024.000", "Infer Training Data Membership", "high", ("AML.M0002", "AML.M0012"),
              MODEL_TRAINING, "Reduce overfitting (regularization, early stopping, more data) and return "
              "labels instead of scores; consider differentially private training."),
    Technique("AML.T0024.001", "Invert AI Model", "high", ("AML.M0002", "AML.M0004"),
              MODEL_TRAINING, "Limit output precision and query rates; remove sensitive features from the "
              "training data."),
    Technique("AML.T0024.002", "Extract AI Model", "medium", ("AML.M0004", "AML.M0002"),
              MODEL_DEPLOYMENT, "Restrict queries per client, return labels only, and monitor for extraction "
              "query patterns."),
    Technique("AML.T0040", "AI Model Inference API Access", "low", ("AML.M0019", "AML.M0004"),
              MODEL_DEPLOYMENT, "Authenticate inference clients and log their queries."),
    Technique("AML.T0029", "Denial of AI Service", "medium", ("AML.M0004",),
              MONITORING, "Rate-limit inference and alert on unusual request volumes."),
    Technique("AML.T0034", "Cost Harvesting", "low", ("AML.M0004",),
              MONITORING, "Set per-client quotas and alert on cost anomalies."),
)}

MITIGATIONS: dict[str, str] = {
    "AML.M0002": "Passive AI Output Obfuscation",
    "AML.M0003": "Model Hardening",
    "AML.M0004": "Restrict Number of AI Model Queries",
    "AML.M0005": "Control Access to AI Models and Data at Rest",
    "AML.M0007": "Sanitize Training Data",
    "AML.M0012": "Encrypt Sensitive Information",
    "AML.M0013": "Code Signing",
    "AML.M0014": "Verify AI Artifacts",
    "AML.M0015": "Adversarial Input Detection",
    "AML.M0016": "Vulnerability Scanning",
    "AML.M0019": "Control Access to AI Models and Data in Production",
    "AML.M0023": "AI Bill of Materials",
    "AML.M0024": "AI Telemetry Logging",
    "AML.M0025": "Maintain AI Dataset Provenance",
}

# What to do when a control area has no evidence at all, and the fallback hint of a failing
# check whose technique is unknown.
AREA_HINTS: dict[str, str] = {
    DATA_COLLECTION: "Record where each dataset comes from (source, digest, licence) before it is used.",
    DATA_PROCESSING: "Validate, redact and screen the data with checks whose thresholds live in the policy.",
    MODEL_TRAINING: "Measure the trained model (accuracy, robustness, privacy leakage) against the policy.",
    MODEL_DEPLOYMENT: "Scan, sign and verify the model artifact; promote only with approvals.",
    MONITORING: "Log inference telemetry and alert on drift, abuse and unusual query patterns.",
    INCIDENT_MANAGEMENT: "Keep a tamper-evident audit trail and a tested procedure to revoke a promoted model.",
    BUSINESS_CONTINUITY: "Back up models, data and evidence; rehearse restoring the last good model.",
}


def normalize_mitigation(raw: str) -> str:
    """'M0007' and 'AML.M0007' name the same mitigation; the report uses the 'AML.' form."""
    return raw if raw.startswith("AML.") else f"AML.{raw}"


def risk_level(severity: str, likelihood: str) -> str:
    return RISK_MATRIX[likelihood][severity]
