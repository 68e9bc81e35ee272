"""An alert (one per rule, event and subject) and its delivery to each of the rule's channels, attempt by attempt."""

from django.db import models

from controlplane.core.models import UUIDModel


class Alert(UUIDModel):
    """One event a rule matched, rendered once; `subject` makes it unique (e.g. the run), so it is sent once."""

    rule = models.ForeignKey("alerts.Rule", on_delete=models.CASCADE, related_name="alerts")
    event = models.CharField(max_length=20)
    subject = models.CharField(max_length=120, help_text="What the alert is about: run:<id>, promotion:<id>, …")
    run = models.ForeignKey("runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=300)
    text = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="The facts the generic webhook sends as JSON.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "event", "subject"], name="one_alert_per_rule_event_subject")
        ]

    def __str__(self) -> str:
        return self.title


class DeliveryState(models.TextChoices):
    """Where a delivery stands; SENT, FAILED and DIGESTED are final."""

    PENDING = "pending", "waiting to be sent (or to be retried)"
    HELD = "held", "held by the channel's rate limit, waiting for its digest"
    SENT = "sent", "the channel accepted it"
    FAILED = "failed", "every attempt failed"
    DIGESTED = "digested", "folded into a digest (see folded_into)"


class Delivery(UUIDModel):
    """An alert's message to one channel, or a digest of held ones (no alert); retried until sent or failed."""

    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey("alerts.Channel", on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the channel's rate limit first let it through (counts in the window).")
    next_attempt_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Not tried before this time: the next retry's time, or the lease of the worker sending it now.")
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    folded_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="folded",
        help_text="The digest that carried this held delivery.")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["alert", "channel"], condition=models.Q(alert__isnull=False),
                                    name="one_delivery_per_alert_and_channel"),
        ]
        indexes = [
            models.Index(fields=["channel", "claimed_at"], name="delivery_channel_claimed"),
            models.Index(fields=["state", "next_attempt_at"], name="delivery_state_due"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.state}"


class DeliveryAttempt(models.Model):
    """One try to send a delivery: what the channel answered, or why it could not be reached."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="unique_delivery_attempt")]

    def __str__(self) -> str:
        return f"attempt {self.number}: {'ok' if self.ok else self.error[:60]}"
