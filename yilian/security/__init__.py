"""Security operations over the audit log: anomaly alerts for the security officer, incident response."""
