"""Scheduling and triggers: schedule ticks, backfills, webhooks and upstream (workflow-of-workflows) triggers."""
