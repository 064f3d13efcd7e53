"""FHIR search: parameter definitions, index extraction, query parsing and SQL."""
