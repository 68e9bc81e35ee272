"""Writes of the alerts app: channels and rules, each audited; targets and secrets encrypted, never shown again."""

from __future__ import annotations

import secrets as token_generator
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from controlplane.alerts.errors import NameTaken
from controlplane.alerts.models import AlertEvent, Channel, ChannelKind, Rule
from controlplane.alerts.senders import sender_for
from controlplane.alerts.senders.email import addresses
from controlplane.core.audit import actor_user_and_label, audit_record, snapshot
from controlplane.core.encryption import encrypt_value
from controlplane.core.errors import ValidationFailed
from controlplane.core.services import model_update

SECRET_PREFIX = "fya_"


def target_checked(kind: str, target: str) -> str:
    """The channel's target cleaned up by its kind's rules; ValidationFailed naming `target` otherwise."""
    try:
        return sender_for(kind).check_target(target)
    except ValueError as exc:
        raise ValidationFailed({"target": [str(exc)]}) from None


def target_hint(kind: str, target: str) -> str:
    """What may be shown of a target: a URL's host, or the e-mail addresses' domains."""
    if kind == ChannelKind.EMAIL:
        found = addresses(target)
        domains = sorted({address.rpartition("@")[2] for address in found})
        return f"{len(found)} address{'es' if len(found) != 1 else ''} at {', '.join(domains)}"[:200]
    return urlsplit(target).netloc.rpartition("@")[2][:200]


def _created_or_taken(model: type, what: str, name: str, **fields: Any) -> Any:
    try:
        with transaction.atomic():
            return model.objects.create(name=name, **fields)
    except IntegrityError:
        raise NameTaken(f"The project already has a {what} named {name!r}; choose another name.",
                        extra={"name": name}) from None


@transaction.atomic
def channel_create(*, actor: Any, project: Any, name: str, kind: str, target: str, secret: str = "",
                   rate_limit_count: int = 10, rate_limit_seconds: int = 600, is_enabled: bool = True
                   ) -> tuple[Channel, str]:
    """Create a channel; returns it and, for a generic webhook, its signing secret (made when not given), which is
    shown this once. Audited as `alert_channel.created` (without target or secret)."""
    target = target_checked(kind, target)
    if kind == ChannelKind.WEBHOOK:
        secret = secret or SECRET_PREFIX + token_generator.token_urlsafe(32)
    elif secret:
        raise ValidationFailed({"secret": ["Only generic webhook channels sign their messages; leave it out."]})
    channel = _created_or_taken(
        Channel, "channel", name, project=project, kind=kind, encrypted_target=encrypt_value(target),
        target_hint=target_hint(kind, target), encrypted_secret=encrypt_value(secret) if secret else "",
        rate_limit_count=rate_limit_count, rate_limit_seconds=rate_limit_seconds, is_enabled=is_enabled,
        created_by=actor_user_and_label(actor)[0],
    )
    audit_record(actor=actor, action="alert_channel.created", obj=channel, after=snapshot(channel), project=project)
    return channel, secret


@transaction.atomic
def channel_update(*, actor: Any, channel: Channel, **changes: Any) -> Channel:
    """Change a channel's name, target (replaced, never read back), secret, rate limit or enabled flag."""
    if "target" in changes:
        target = target_checked(channel.kind, changes.pop("target"))
        changes["encrypted_target"] = encrypt_value(target)
        changes["target_hint"] = target_hint(channel.kind, target)
    if "secret" in changes:
        secret = changes.pop("secret")
        if channel.kind != ChannelKind.WEBHOOK:
            raise ValidationFailed({"secret": ["Only generic webhook channels sign their messages; leave it out."]})
        if not secret:
            raise ValidationFailed({"secret": ["A webhook channel needs a secret; give a new one to rotate it."]})
        changes["encrypted_secret"] = encrypt_value(secret)
    if "name" in changes and Channel.objects.filter(project=channel.project, name=changes["name"]).exclude(
            pk=channel.pk).exists():
        raise NameTaken(f"The project already has a channel named {changes['name']!r}; choose another name.")
    return model_update(actor=actor, obj=channel, changes=changes, action="alert_channel.updated",
                        project=channel.project)


@transaction.atomic
def channel_delete(*, actor: Any, channel: Channel) -> None:
    """Delete a channel with its deliveries' records; the rules that used it keep their other channels."""
    audit_record(actor=actor, action="alert_channel.deleted", obj=channel, before=snapshot(channel),
                 project=channel.project)
    channel.delete()


def _check_rule(project: Any, fields: dict[str, Any]) -> None:
    problems: dict[str, list[str]] = {}
    events = fields.get("events")
    if events is not None:
        unknown = sorted(set(events) - set(AlertEvent.values))
        if unknown:
            problems["events"] = [f"Unknown events {unknown}; choose from {sorted(AlertEvent.values)}."]
        elif not events:
            problems["events"] = ["Name at least one event."]
    for field in ("environments", "workflows"):
        names = fields.get(field)
        if not names:
            continue
        known = set(project.environments.values_list("name", flat=True) if field == "environments"
                    else project.workflows.values_list("name", flat=True))
        missing = sorted(set(names) - known)
        if missing:
            problems[field] = [f"The project has no {field[:-1]} named {', '.join(missing)}; known: "
                               f"{', '.join(sorted(known)) or 'none yet'}."]
    channels = fields.get("channels")
    if channels is not None:
        foreign = [str(channel.pk) for channel in channels if channel.project_id != project.pk]
        if foreign:
            problems["channels"] = [f"Channels {foreign} belong to another project."]
        elif not channels:
            problems["channels"] = ["Name at least one channel of the project."]
    if problems:
        raise ValidationFailed(problems)


@transaction.atomic
def rule_create(*, actor: Any, project: Any, name: str, events: list[str], channels: list[Channel],
                environments: list[str] | None = None, workflows: list[str] | None = None,
                run_long_seconds: int | None = None, run_long_p95_factor: float | None = None,
                is_enabled: bool = True) -> Rule:
    """Create a rule; audited as `alert_rule.created`."""
    fields = {"events": events, "environments": environments or [], "workflows": workflows or [],
              "channels": channels}
    _check_rule(project, fields)
    _check_long(events, run_long_seconds, run_long_p95_factor)
    rule = _created_or_taken(
        Rule, "rule", name, project=project, events=sorted(set(events)), environments=fields["environments"],
        workflows=fields["workflows"], run_long_seconds=run_long_seconds, run_long_p95_factor=run_long_p95_factor,
        is_enabled=is_enabled, created_by=actor_user_and_label(actor)[0],
    )
    rule.channels.set(channels)
    audit_record(actor=actor, action="alert_rule.created", obj=rule,
                 after={**snapshot(rule), "channels": [str(channel.pk) for channel in channels]}, project=project)
    return rule


def _check_long(events: list[str], seconds: int | None, factor: float | None) -> None:
    if AlertEvent.RUN_LONG in events and not (seconds or factor):
        raise ValidationFailed({"run_long_seconds": [
            "run_long needs a threshold: run_long_seconds, run_long_p95_factor, or both (the lower applies)."]})


@transaction.atomic
def rule_update(*, actor: Any, rule: Rule, **changes: Any) -> Rule:
    """Change a rule; audited as `alert_rule.updated`."""
    _check_rule(rule.project, changes)
    _check_long(changes.get("events", rule.events), changes.get("run_long_seconds", rule.run_long_seconds),
                changes.get("run_long_p95_factor", rule.run_long_p95_factor))
    if "name" in changes and Rule.objects.filter(project=rule.project, name=changes["name"]).exclude(
            pk=rule.pk).exists():
        raise NameTaken(f"The project already has a rule named {changes['name']!r}; choose another name.")
    channels = changes.pop("channels", None)
    if "events" in changes:
        changes["events"] = sorted(set(changes["events"]))
    rule = model_update(actor=actor, obj=rule, changes=changes, action="alert_rule.updated", project=rule.project)
    if channels is not None:
        rule.channels.set(channels)
    return rule


@transaction.atomic
def rule_delete(*, actor: Any, rule: Rule) -> None:
    """Delete a rule and the record of its alerts."""
    audit_record(actor=actor, action="alert_rule.deleted", obj=rule, before=snapshot(rule), project=rule.project)
    rule.delete()
