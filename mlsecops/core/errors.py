"""One exception family per kind of failure; the CLI prints the message without a traceback."""


class MlsecopsError(Exception):
    """Base class: the message names the file/column/control and what to do."""


class PolicyError(MlsecopsError):
    """The policy file is missing, unreadable or invalid."""


class SourceError(MlsecopsError):
    """A data source is missing, empty, too large, not UTF-8 or has the wrong columns."""


class EvidenceError(MlsecopsError):
    """An evidence document is missing, unreadable or does not match its recorded digest."""


class SignatureError(MlsecopsError):
    """A signature, key or signed digest does not verify."""


class PromotionRefused(MlsecopsError):
    """Promotion was refused; the message lists every reason."""


class PiiError(MlsecopsError):
    """PII scanning or redaction cannot run as configured (missing NLP model, bad column, key)."""


class ArtifactError(MlsecopsError):
    """An artifact is missing, unsafe to load, or not the one that was signed and attested."""


class AuditError(MlsecopsError):
    """The audit log cannot be opened, read or written."""


class ReportError(MlsecopsError):
    """A risk report cannot be built or written (bad check outcome, invalid SARIF, missing report)."""
