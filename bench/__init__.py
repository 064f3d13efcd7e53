"""Benchmarks: each prints JSON; `make bench` runs them all side by side with their baselines."""
