"""Flowyard's shared contracts: config schema, state enums and API payloads (pydantic + stdlib only)."""
