"""A channel: where a project's alerts go (e-mail addresses, a Slack-compatible webhook, a signed webhook)."""

from django.conf import settings
from django.db import models

from controlplane.core.models import UUIDModel
from controlplane.tenancy.models.teams import slug_validator


class ChannelKind(models.TextChoices):
    """How a channel delivers."""

    EMAIL = "email", "e-mail (SMTP)"
    SLACK = "slack", "Slack-compatible incoming webhook (Slack, Mattermost, Teams)"
    WEBHOOK = "webhook", "generic webhook signed with HMAC-SHA256"


class Channel(UUIDModel):
    """A destination for alerts; its address and secret are stored encrypted and never shown again."""

    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="alert_channels")
    name = models.CharField(max_length=63, validators=[slug_validator])
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    encrypted_target = models.TextField(help_text="The addresses (e-mail) or URL (webhooks), as a Fernet token.")
    target_hint = models.CharField(
        max_length=200, blank=True,
        help_text="What people may see of the target: the webhook's host, or the e-mail addresses' domains.",
    )
    encrypted_secret = models.TextField(blank=True, help_text="The generic webhook's signing secret, as a Fernet token.")
    is_enabled = models.BooleanField(default=True)
    rate_limit_count = models.PositiveIntegerField(
        default=10, help_text="At most this many messages per window; more are folded into one digest.")
    rate_limit_seconds = models.PositiveIntegerField(default=600, help_text="The rate limit's window.")
    digest_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the digest of the deliveries held by the rate limit is sent.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_alert_channel_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"
