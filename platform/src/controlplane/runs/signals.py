"""Signals of the runs app: how apps above it hear about runs without runs importing them."""

import django.dispatch

# Sent with `run_id` after the transaction that made the run terminal commits (never inside it).
run_ended = django.dispatch.Signal()

# Sent with `run` (locked) inside the transaction that would queue its retry. A receiver that returns a
# non-empty string refuses the retry, the string saying why (e.g. the run's backfill was cancelled).
retry_requested = django.dispatch.Signal()
