"""A deployment's webhook: a URL with its own secret that starts runs, and the deliveries it accepted."""

from django.db import models

from controlplane.core.models import UUIDModel


class DeploymentWebhook(UUIDModel):
    """The webhook of one deployment. Only the Fernet ciphertext of its secret is stored.

    `encrypted_secret` is never copied into audit snapshots (core.audit leaves out `encrypted_*` fields).
    """

    deployment = models.OneToOneField("deployments.Deployment", on_delete=models.CASCADE, related_name="webhook")
    encrypted_secret = models.TextField(help_text="Fernet token of the signing secret; never the secret itself.")
    is_enabled = models.BooleanField(default=True)
    parameter_mapping = models.JSONField(
        default=dict, blank=True,
        help_text="Parameter name → JSON pointer or '{{ /pointer }}' template into a delivery's body; "
                  "empty: the body is the parameter overrides (see scheduling.payload_mapping).",
    )
    created_by_label = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"webhook {self.pk}"

    def __repr__(self) -> str:  # never the ciphertext
        return f"<DeploymentWebhook {self.pk} deployment={self.deployment_id}>"


class WebhookDelivery(models.Model):
    """A delivery accepted with an idempotency key: a replay of the key answers with the same run."""

    webhook = models.ForeignKey(DeploymentWebhook, on_delete=models.CASCADE, related_name="deliveries")
    idempotency_key = models.CharField(max_length=255)
    body_sha256 = models.CharField(max_length=64, help_text="Hash of the first body sent with this key.")
    run = models.ForeignKey("runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "idempotency_key"], name="one_delivery_per_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"delivery {self.idempotency_key} of {self.webhook_id}"
