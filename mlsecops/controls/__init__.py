"""The security controls: plain Python, no Dagster, one package per family.

    data/      validation, provenance, discretion (PII), integrity (poison screen)
    model/     scanning, signing, attestation, SBOM, adversarial evaluation
    release/   approvals
    audit/     the decision log (SQLite, Postgres) and forensics
    report/    the risk report, its rendering and the ATLAS/framework vocabulary

Each family declares its policy section next to its code (`policy.py`); private helpers stay inside
their package.
"""
