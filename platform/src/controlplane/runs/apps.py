"""Runs, task runs and their log lines."""

from django.apps import AppConfig


class RunsConfig(AppConfig):
    """The runs app; retries listen to `run_ended`, result stores to `environment_deleted`."""

    name = "controlplane.runs"
    label = "runs"

    def ready(self) -> None:
        """Connect the receivers (importing their modules connects them)."""
        from controlplane.runs import result_stores, retries  # noqa: F401 - importing connects @receiver
