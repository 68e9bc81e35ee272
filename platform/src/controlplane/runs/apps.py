"""Runs, task runs and their log lines."""

from django.apps import AppConfig


class RunsConfig(AppConfig):
    """The runs app; retries listen to `run_ended`."""

    name = "controlplane.runs"
    label = "runs"

    def ready(self) -> None:
        """Connect the retry receiver (importing the module connects it)."""
        from controlplane.runs import retries  # noqa: F401 - importing connects @receiver
