"""This installation of Flowyard: one row holding the id that labels every workload it launches."""

import secrets

from django.db import models

SINGLETON_PK = 1


def new_installation_id() -> str:
    """A random installation id: 16 hex digits, usable as a Docker label value and an ECS tag value."""
    return secrets.token_hex(8)


class Installation(models.Model):
    """The one row that names this control plane installation (made on first use; FLOWYARD_INSTALLATION_ID wins)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_PK, editable=False)
    identifier = models.CharField(max_length=63, unique=True, default=new_installation_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=SINGLETON_PK), name="one_installation")]

    def __str__(self) -> str:
        return f"installation {self.identifier}"

    @classmethod
    def current(cls) -> "Installation":
        """The installation's row, created with a random id by the first caller (concurrent callers agree)."""
        installation, _created = cls.objects.get_or_create(pk=SINGLETON_PK)
        return installation
