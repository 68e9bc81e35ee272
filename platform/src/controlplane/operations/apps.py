"""Operations: health and readiness checks, Prometheus metrics (and, next, alerts and costs) for the platform team."""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The operations app (a top layer beside gitops and the portal: it reads every app below it)."""

    name = "controlplane.operations"
    label = "operations"

    def ready(self) -> None:
        """Register Flowyard's deployment checks (`flowyard-admin check --deploy`)."""
        from controlplane.operations import deploy_checks  # noqa: F401 - importing it registers the checks
