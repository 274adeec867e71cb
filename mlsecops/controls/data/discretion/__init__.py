"""Discretion: find PII offline (Presidio + built-in gazetteers) and redact it per entity.

    report = pii.scan_table(frame, policy.pii)
    clean, redaction = pii.redact_table(frame, report, policy.pii, key)
"""
