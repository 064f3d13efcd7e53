"""Dynamic informed consent: FHIR Consent resources, the decision model, and its SQL form for the gate."""
