"""Helpers for Flowyard's tests: tenants with objects of every kind, and the API route list."""
