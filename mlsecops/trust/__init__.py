"""Identities and keys: `keyring.KeyRing` (per-identity EC keys, the trust file, the one identity-name
rule) and `signer.PayloadSigner` (signatures over small payloads: approvals, decisions, checkpoints).
"""
