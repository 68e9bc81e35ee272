"""Sending a signal once the current transaction commits, so that no receiver can break the write that caused it."""

from __future__ import annotations

import logging
from typing import Any

import django.dispatch
from django.db import transaction

logger = logging.getLogger(__name__)


def send_robust_now(signal: django.dispatch.Signal, sender: Any, **kwargs: Any) -> None:
    """Send `signal` to every receiver; a receiver that raises is logged with the arguments and never stops the rest."""
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.error("%s failed on %s", getattr(receiver, "__qualname__", receiver), kwargs, exc_info=result)


def send_on_commit(signal: django.dispatch.Signal, sender: Any, **kwargs: Any) -> None:
    """`send_robust_now` after the transaction commits (at once outside one); never when it rolls back."""
    transaction.on_commit(lambda: send_robust_now(signal, sender, **kwargs))
