"""Secrets of an environment: stored encrypted, injected into its runs as environment variables."""

from django.core.validators import RegexValidator
from django.db import models

from controlplane.core.models import UUIDModel

# An environment variable name as the API accepts it (upper case, as variables conventionally are).
SECRET_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
secret_name_validator = RegexValidator(
    SECRET_NAME_PATTERN,
    "Use upper-case letters, digits and underscores, not starting with a digit (e.g. DB_PASSWORD).",
)


class EnvironmentSecret(UUIDModel):
    """One named secret of an environment. Only the Fernet ciphertext is stored (see deployments/secrets.py).

    The field is named `encrypted_value` on purpose: core.audit never copies a field of that name into an
    audit snapshot.
    """

    environment = models.ForeignKey("deployments.Environment", on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(
        max_length=255, validators=[secret_name_validator],
        help_text="The environment variable the environment's runs get the value in, e.g. DB_PASSWORD.",
    )
    encrypted_value = models.TextField(help_text="Fernet token of the value; never the value itself.")
    created_by_label = models.CharField(
        max_length=200, blank=True, help_text="Who first set the secret; replacements are in the audit log."
    )

    class Meta:
        ordering = ["environment__project__slug", "environment__order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="unique_secret_name_per_environment")
        ]

    def __str__(self) -> str:
        return f"{self.environment}:{self.name}"

    def __repr__(self) -> str:  # never the ciphertext, even in a debugger or a traceback
        return f"<EnvironmentSecret {self.pk} {self.name}>"
