"""FHIR R4 support: structural validation and the mapping of errors to OperationOutcome."""
