"""Test support: the pytest plugin with app and database fixtures, callers and helpers."""
