"""The id of this control plane installation: every workload it launches is labelled with it."""

from __future__ import annotations

import functools

from django.conf import settings

from controlplane.core.models import Installation


@functools.cache
def current_installation_id() -> str:
    """FLOWYARD_INSTALLATION_ID when set, else the random id stored once in the database; read once per process."""
    return settings.FLOWYARD.installation_id or Installation.current().identifier
