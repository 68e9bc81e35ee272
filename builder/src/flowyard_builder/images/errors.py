"""Errors raised while building and pushing images; each maps to one `flowyard` exit code."""

from __future__ import annotations


class ImageError(Exception):
    """Building or pushing an image failed (exit code 2)."""


class InvalidWorkflow(Exception):
    """The workflow directory or an option is unusable as given (exit code 1)."""


class EngineUnavailable(ImageError):
    """The Docker engine does not answer."""


class DependencyError(ImageError):
    """The workflow's dependencies could not be downloaded as wheels."""


class BuildError(ImageError):
    """The image build failed; `step` is the Dockerfile step that failed, when known."""

    def __init__(self, message: str, step: str | None = None, log_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.log_tail = log_tail or []


class PushError(ImageError):
    """Pushing the image to its registry failed."""
