"""The link between a Flowyard user and their identity at the OpenID Connect provider."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel


class AccountStatus(models.TextChoices):
    """Whether the provider still lets the person in, as of the last sign-in or re-check."""

    ACTIVE = "active"
    NO_ROLE = "no_role", "no role (none of their groups is mapped)"
    DISABLED = "disabled", "disabled at the provider"


class SsoAccount(UUIDModel):
    """A person's identity at the provider (issuer + subject), their groups as last seen, and how to re-check them.

    The refresh token, when the provider gave one, is stored only as a Fernet token (`encrypted_refresh_token`)
    and used by the periodic re-check; it is never shown or logged.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_account")
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255, help_text="The provider's stable id of the person (the sub claim).")
    groups = models.JSONField(default=list, blank=True, help_text="The groups claim as last seen.")
    status = models.CharField(max_length=10, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    encrypted_refresh_token = models.TextField(blank=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_account_per_provider_subject")]

    def __str__(self) -> str:
        return f"{self.user} ({self.subject} at {self.issuer})"
