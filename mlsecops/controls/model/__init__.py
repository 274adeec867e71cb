"""Model controls: `scanning` (format allowlist + scanners), `signing` (model-signing bundles),
`attestation` (signed SLSA provenance), `sbom` (CycloneDX) and `adversarial` (ART evaluation).
"""
