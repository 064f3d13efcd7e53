"""CSV exports with a per-member column mapping (TOML)."""
