"""Runtime target models."""

from controlplane.runtimes.models.targets import RuntimeTarget

__all__ = ["RuntimeTarget"]
