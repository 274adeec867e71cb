"""Data controls: `provenance` (read and fingerprint a source), `validation` (the GX suite),
`discretion` (offline PII scan and redaction) and `integrity` (the poison screen).
"""
