"""Tamper-evident audit: every access as an IHE BALP AuditEvent in an RFC 9162 Merkle log (docs/audit.md)."""
