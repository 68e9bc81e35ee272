"""A deployment's effective schedule and the ticks it fires at: the same code as `flowyard schedule next`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controlplane.deployments.models import Deployment
from controlplane.workflows.configs import parsed_config
from flowyard_spec.config import DEFAULT_CATCH_UP, DEFAULT_CATCH_UP_MAX, DEFAULT_START_DEADLINE_SECONDS
from flowyard_spec.schedules import Schedule, as_utc

# Most ticks listed at once (a backfill range, or a catch-up after downtime is counted up to this).
MAX_TICKS = 10_000


@dataclass(frozen=True)
class EffectiveSchedule:
    """What the scheduler does for one deployment: whether it fires, when, and how it catches up."""

    schedule: Schedule | None
    timezone: str
    active: bool
    why_inactive: str
    catch_up: str
    catch_up_max: int
    start_deadline: int

    @property
    def expression(self) -> str | None:
        """The schedule expression, or None when the config has none."""
        return self.schedule.expression if self.schedule else None

    def next_fire_times(self, after: datetime, count: int) -> list[datetime]:
        """The next `count` ticks strictly after `after` (UTC); [] without a schedule (active or not)."""
        return self.schedule.next_fire_times(as_utc(after), count, self.timezone) if self.schedule else []


def effective_schedule(deployment: Deployment) -> EffectiveSchedule:
    """The deployment's schedule from its deployed version's config with the environment's overrides applied.

    It is active only when a version is deployed, the deployment is not paused, and the config enables the
    schedule. Schedules are on by default only in protected environments (`requires_approval`: production,
    reached by promotion); in an open one (test, where branch builds land) the environment's own override
    must turn it on, so a branch build never runs on production's schedule. A merge request's preview
    environment never fires a schedule: its runs start from CI (the smoke run) or by hand.
    """
    environment = deployment.environment
    if deployment.version is None:
        return EffectiveSchedule(None, "UTC", False, "nothing is deployed", DEFAULT_CATCH_UP, DEFAULT_CATCH_UP_MAX,
                                 DEFAULT_START_DEADLINE_SECONDS)
    override = parsed_config(deployment.version).environments.get(environment.config_name)
    explicit_on = bool(override is not None and "schedule_enabled" in override.model_fields_set
                       and override.schedule_enabled)
    config = parsed_config(deployment.version, environment.config_name)
    schedule = config.parsed_schedule()
    if schedule is None:
        why = "the config has no schedule"
    elif environment.is_preview:
        why = f"schedules are off in preview environments ({environment.name}): start its runs by hand or from CI"
    elif not config.schedule_enabled:
        why = "schedule-enabled is false"
    elif not environment.requires_approval and not explicit_on:
        why = (f"schedules are off in {environment.name} unless environments.{environment.name} sets "
               "schedule-enabled: true")
    elif deployment.is_paused:
        why = "the schedule is paused"
    else:
        why = ""
    return EffectiveSchedule(
        schedule=schedule,
        timezone=config.timezone,
        active=not why,
        why_inactive=why,
        catch_up=config.catch_up or DEFAULT_CATCH_UP,
        catch_up_max=config.catch_up_max or DEFAULT_CATCH_UP_MAX,
        start_deadline=config.start_deadline or DEFAULT_START_DEADLINE_SECONDS,
    )


def ticks_between(schedule: EffectiveSchedule, after: datetime, until: datetime, *, limit: int = MAX_TICKS) -> list[datetime]:
    """The ticks in (after, until], ascending, at most `limit` (the earliest ones)."""
    ticks: list[datetime] = []
    cursor, until = as_utc(after), as_utc(until)
    while len(ticks) < limit:
        batch = schedule.next_fire_times(cursor, min(500, limit - len(ticks)))
        for tick in batch:
            if tick > until:
                return ticks
            ticks.append(tick)
        if not batch:
            return ticks
        cursor = batch[-1]
    return ticks
