"""The record store: FHIR resources, their versions and their search indexes, on SQLite or PostgreSQL."""
