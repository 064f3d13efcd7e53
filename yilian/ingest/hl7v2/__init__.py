"""HL7 v2: decoding, parsing (python-hl7), mapping to FHIR, acknowledgements."""
