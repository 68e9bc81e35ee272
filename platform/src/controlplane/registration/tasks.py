"""Celery tasks of the registration app: tearing down preview environments that outlived their TTL."""

from __future__ import annotations

import logging

from celery import shared_task

from controlplane.registration.previews import previews_expire

logger = logging.getLogger(__name__)
EXPIRE_PREVIEWS = "controlplane.registration.tasks.expire_previews"


@shared_task(name=EXPIRE_PREVIEWS)
def expire_previews() -> list[str]:
    """Tear down every preview with no pipeline for its project's preview_ttl_days (beat sends it hourly;
    running it twice at once tears each preview down once)."""
    expired = previews_expire()
    if expired:
        logger.info("tore down %d expired preview environment(s): %s", len(expired), ", ".join(expired))
    return expired
