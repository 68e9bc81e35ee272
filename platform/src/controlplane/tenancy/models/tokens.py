"""API tokens: personal tokens for people and project-scoped CI tokens. Only hashes are stored."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from controlplane.core.models import TimestampedModel
from controlplane.tenancy.models.teams import Project


class TokenBase(TimestampedModel):
    """What every API token has: a name, a public prefix to recognise it, its hash, expiry, revocation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters of the token, safe to show.")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        """True when the token is neither revoked nor expired."""
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class PersonalToken(TokenBase):
    """A person's API token: acts with exactly that person's roles."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")

    class Meta(TokenBase.Meta):
        pass


class ProjectToken(TokenBase):
    """A CI token of one project: may register versions and request promotions there, nothing else."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="ci_tokens")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TokenBase.Meta):
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_ci_token_name_per_project")]
