"""GitOps: repositories linked to projects, the forges' webhooks (merge requests drive promotions), reports back to
the forge, and reconciling deployments from Git. It sits above registration, which it uses and listens to."""

from django.apps import AppConfig


class GitopsConfig(AppConfig):
    """The gitops app."""

    name = "controlplane.gitops"
    label = "gitops"

    def ready(self) -> None:
        """Connect the receivers of lower apps' signals."""
        from controlplane.gitops import receivers  # noqa: F401  (registers the receivers)
