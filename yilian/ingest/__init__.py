"""Ingest: turning what members send (FHIR files, HL7 v2, CSV) into stored FHIR resources."""
