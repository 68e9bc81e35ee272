"""Costs: what each finished run cost by its runtime target's price table, rollups, and budgets per project."""

from django.apps import AppConfig


class CostsConfig(AppConfig):
    """The costs app: prices a run when it ends (runs.signals.run_ended) and watches each project's budget."""

    name = "controlplane.costs"
    label = "costs"

    def ready(self) -> None:
        """Connect the receivers of run signals."""
        from controlplane.costs import receivers  # noqa: F401
