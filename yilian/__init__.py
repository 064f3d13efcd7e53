"""Yilian (医联): a health information exchange for medical alliances, speaking FHIR R4."""

__version__ = "0.1.0"
