"""Repositories linked to projects, forge users matched to people, and the forge deliveries received."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel


class Forge(models.TextChoices):
    """Where a repository lives."""

    GITLAB = "gitlab"
    GITHUB = "github"


class RepositoryLink(UUIDModel):
    """A Git repository holding workflows of one project: its merge requests drive the project's promotions.

    The webhook secret and the forge API token are stored only as Fernet tokens (`encrypted_*` fields, which
    core.audit never copies into a snapshot).
    """

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="repository_links")
    forge = models.CharField(max_length=10, choices=Forge.choices)
    repository_path = models.CharField(max_length=255, help_text="group/name on the forge (nested groups too).")
    clone_url = models.CharField(max_length=500, help_text="What git clones: https://…, ssh://…, or file:// in tests.")
    default_branch = models.CharField(max_length=255, default="main")
    workflows = models.JSONField(
        default=list, help_text='The workflows it holds: [{"name": "etl", "path": "etl"}] (path: the folder of the '
                                "workflow's flowyard.json, '.' for the root).")
    encrypted_webhook_secret = models.TextField(help_text="Fernet token of the webhook secret; never the secret.")
    api_url = models.URLField(max_length=500, blank=True,
                              help_text="The forge's REST API for commit statuses and the merge-request comment "
                                        "(https://gitlab.example.com/api/v4, https://api.github.com); empty: none.")
    encrypted_api_token = models.TextField(blank=True, help_text="Fernet token of the forge API token.")
    require_test_success = models.BooleanField(
        default=False, help_text="Promote only a version that has a SUCCEEDED run where it was tested.")
    created_by_label = models.CharField(max_length=200, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True, help_text="Why the last sync from Git failed (git's message).")

    class Meta:
        ordering = ["project__slug", "repository_path"]
        constraints = [models.UniqueConstraint(fields=["project", "forge", "repository_path"],
                                               name="one_link_per_project_repository")]

    def __str__(self) -> str:
        return f"{self.forge}:{self.repository_path}"

    def __repr__(self) -> str:  # never the ciphertexts
        return f"<RepositoryLink {self.pk} {self.forge}:{self.repository_path}>"

    def workflow_names(self) -> list[str]:
        """The names of the workflows the repository holds."""
        return [entry["name"] for entry in self.workflows or []]


class IdentitySource(models.TextChoices):
    """Who said that a forge user is this person."""

    MANUAL = "manual"
    SSO = "sso"


class ForgeIdentity(UUIDModel):
    """A forge user (by username) matched to a Flowyard user, so their merge-request approvals count as theirs.
    Platform staff fill it (and, once SSO lands, the IdP's claims); an unmatched forge user approves nothing."""

    forge = models.CharField(max_length=10, choices=Forge.choices)
    username = models.CharField(max_length=255, help_text="The forge login, compared case-insensitively.")
    forge_user_id = models.CharField(max_length=64, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forge_identities")
    source = models.CharField(max_length=10, choices=IdentitySource.choices, default=IdentitySource.MANUAL)

    class Meta:
        ordering = ["forge", "username"]
        constraints = [models.UniqueConstraint(fields=["forge", "username"], name="one_user_per_forge_username")]

    def __str__(self) -> str:
        return f"{self.forge}:{self.username}"

    def save(self, *args, **kwargs) -> None:
        """Store the username lower-cased: forges treat logins case-insensitively."""
        self.username = self.username.lower()
        super().save(*args, **kwargs)


class DeliveryOutcome(models.TextChoices):
    """What a verified delivery did."""

    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class ForgeDelivery(models.Model):
    """A verified webhook delivery, kept once per delivery id (a replay changes nothing)."""

    link = models.ForeignKey(RepositoryLink, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.CharField(max_length=255)
    event = models.CharField(max_length=100)
    action = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict, help_text="The forge's headers, less the secret and the signature.")
    outcome = models.CharField(max_length=10, choices=DeliveryOutcome.choices, default=DeliveryOutcome.PROCESSED)
    detail = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["link", "delivery_id"], name="one_delivery_per_forge_id")]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"
