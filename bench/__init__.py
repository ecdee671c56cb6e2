"""Benchmarks: each a script that prints its figures (see the README table)."""
