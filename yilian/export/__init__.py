"""FHIR Bulk Data export ($export): NDJSON files of what a caller may see, made in the background, gated
and audited page by page (docs/export.md)."""
