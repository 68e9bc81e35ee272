"""Signals of the scheduling app, for the apps above it (alerts) to hear about schedules."""

import django.dispatch

# Sent with `run_id` after the transaction that marked a scheduled run late (not started within its config's
# `start-deadline` after its tick) commits; once per run.
run_late = django.dispatch.Signal()
