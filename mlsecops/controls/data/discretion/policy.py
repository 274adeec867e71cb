"""Policy section `pii`: what counts as PII, how it is found (offline) and what happens to it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlsecops.core.policy import Section

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
