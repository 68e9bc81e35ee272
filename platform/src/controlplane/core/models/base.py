"""Abstract model bases."""

import uuid

from django.db import models


class TimestampedModel(models.Model):
    """A model that records when it was created and last changed."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class UUIDModel(TimestampedModel):
    """A timestamped model with a random UUID primary key (ids reveal nothing about other tenants)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta:
        abstract = True
