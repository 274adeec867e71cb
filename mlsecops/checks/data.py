"""Gates on the data: the GX suite, discretion (PII) and the poison screen.

    VALIDATION_SUITE, NO_UNREDACTED_PII, NO_UNEXPECTED_PII, IDENTITY_COLUMNS_NOT_IN_FEATURES,
    POISONING_SCREEN, BACKDOOR_TRIGGER              # CheckSpecs, attached to their stages
"""

from __future__ import annotations

from mlsecops.checks.spec import CheckSpec, EvidenceView
from mlsecops.controls.data.discretion.pii import (evaluate_identity_features, evaluate_no_unredacted_pii,
                                                   evaluate_unexpected_pii)
from mlsecops.controls.data.integrity.poisoning import evaluate_screen
from mlsecops.controls.data.validation import evaluate_validation
from mlsecops.core.errors import EvidenceError, SignatureError
from mlsecops.core.outcome import CheckOutcome
from mlsecops.policy import Policy


# -- validated_data -----------------------------------------------------------------------------
def _check_validation(view: EvidenceView, policy: Policy) -> CheckOutcome:
    return evaluate_validation(view.data("validated_data")["validation"])


VALIDATION_SUITE = CheckSpec("validation_suite", "Every expectation of the GX suite is met.", _check_validation)


# -- redacted_data ------------------------------------------------------------------------------
def declared_columns(view: EvidenceView) -> tuple[list[str], list[str]]:
    """(identity, free text) columns from the schema's roles."""
    columns = view.spec.schema.columns
    return [c.name for c in columns if c.role == "identity"], [c.name for c in columns if c.role == "text"]


def _check_no_unredacted(view: EvidenceView, policy: Policy) -> CheckOutcome:
    return evaluate_no_unredacted_pii(view.data("redacted_data")["pii"], policy.pii)


def _check_unexpected(view: EvidenceView, policy: Policy) -> CheckOutcome:
    return evaluate_unexpected_pii(view.data("redacted_data")["pii"], policy.pii)


def _check_identity_features(view: EvidenceView, policy: Policy) -> CheckOutcome:
    return evaluate_identity_features(view.data("redacted_data")["pii"], view.spec.schema.features, policy.pii)


NO_UNREDACTED_PII = CheckSpec("no_unredacted_pii", "A rescan of the redacted table finds no configured PII above "
                              "the policy score.", _check_no_unredacted)
NO_UNEXPECTED_PII = CheckSpec("no_unexpected_pii", "No PII sat in a column the schema did not declare identity or "
                              "free text (fails only when the policy says unexpected_pii: block).", _check_unexpected)
IDENTITY_COLUMNS_NOT_IN_FEATURES = CheckSpec("identity_columns_not_in_features", "No identity column (declared or "
                                             "found) is a training feature.", _check_identity_features)


# -- screened_data ------------------------------------------------------------------------------
def _outcomes(view: EvidenceView, policy: Policy) -> list[CheckOutcome]:
    """Re-read the quarantine document the stage recorded (by digest) and evaluate the policy."""
    data = view.data("screened_data")
    declared = view.spec.reference
    if declared is not None and declared.sha256 and data["reference"]["sha256"] != declared.sha256:
        raise SignatureError(f"the screen used a trusted slice with sha256 {data['reference']['sha256'][:12]}…, "
                             f"not the pinned {declared.sha256[:12]}…")
    ref = view.store.latest_ref(view.spec.name, "quarantine")
    if ref.sha256 != data["quarantine"]["sha256"]:
        raise EvidenceError(f"the newest quarantine evidence ({ref.sha256[:12]}…) is not the one screened_data "
                            f"recorded ({data['quarantine']['sha256'][:12]}…): re-run screened_data")
    quarantine = view.store.load(ref).data
    p = policy.poisoning
    return evaluate_screen(quarantine, max_flagged_fraction=p.max_flagged_fraction,
                           max_trigger_fraction=p.max_trigger_fraction)


def _check_flagged(view: EvidenceView, policy: Policy) -> CheckOutcome:
    return _outcomes(view, policy)[0]


def _check_trigger(view: EvidenceView, policy: Policy) -> CheckOutcome:
    return _outcomes(view, policy)[1]


POISONING_SCREEN = CheckSpec("poisoning_screen", "Quarantined fraction within policy (AML.T0020).", _check_flagged)
BACKDOOR_TRIGGER = CheckSpec("backdoor_trigger", "No flagged group shares a trigger pattern (AML.T0043.004).",
                             _check_trigger)

CHECKS = (VALIDATION_SUITE, NO_UNREDACTED_PII, NO_UNEXPECTED_PII, IDENTITY_COLUMNS_NOT_IN_FEATURES,
          POISONING_SCREEN, BACKDOOR_TRIGGER)
