"""Celery tasks of the sso app: the periodic re-check of people's accounts with the provider."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from controlplane.sso.models import AccountStatus, SsoAccount
from controlplane.sso.recheck import account_recheck

BATCH = 500


@shared_task(name="controlplane.sso.tasks.recheck_accounts", ignore_result=True)
def recheck_accounts() -> int:
    """Enqueue a re-check of every account not checked for FLOWYARD_OIDC_RECHECK_SECONDS (at most BATCH per pass)."""
    if not settings.FLOWYARD.sso_enabled:
        return 0
    due = timezone.now() - datetime.timedelta(seconds=settings.FLOWYARD.oidc_recheck_seconds)
    accounts = (SsoAccount.objects.exclude(encrypted_refresh_token="").exclude(status=AccountStatus.DISABLED)
                .filter(Q(last_checked_at__lt=due) | Q(last_checked_at__isnull=True, last_login_at__lt=due))
                .order_by("last_checked_at").values_list("pk", flat=True)[:BATCH])
    count = 0
    for account_id in accounts:
        recheck_account.delay(str(account_id))
        count += 1
    return count


@shared_task(name="controlplane.sso.tasks.recheck_account", ignore_result=True)
def recheck_account(account_id: str) -> str:
    """Re-check one account with the provider (idempotent: it asks again and applies the answer)."""
    return account_recheck(account_id)
