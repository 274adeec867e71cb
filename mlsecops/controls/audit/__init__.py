"""The decision log: `log.AuditLog` (append-only hash chain, signed checkpoints, SQLite), `postgres`
(the same on Postgres; `open_audit_log` picks one) and `forensics` (explain a decision).
"""
