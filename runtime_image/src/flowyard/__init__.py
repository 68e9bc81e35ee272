"""The Flowyard workflow SDK: `from flowyard import flow, task` (the SDK itself arrives with the builder)."""

__version__ = "0.1.0"
