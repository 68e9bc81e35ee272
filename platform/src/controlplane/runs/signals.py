"""Signals of the runs app: how apps above it hear about runs without runs importing them."""

import django.dispatch

# Sent with `run_id` after the transaction that made the run terminal commits (never inside it), and `run`: the
# run as committed with what its receivers read loaded (`ENDED_RUN_RELATED`), or None when a sender only knows the
# id (a receiver then reads the run itself).
run_ended = django.dispatch.Signal()

# What `run_ended`'s `run` has loaded: one query serves every receiver (retries, pricing, alerts, downstream runs).
ENDED_RUN_RELATED = ("version", "runtime_target", "deployment__workflow", "deployment__environment__project__team")

# Sent with `run` (locked) inside the transaction that would queue its retry. A receiver that returns a
# non-empty string refuses the retry, the string saying why (e.g. the run's backfill was cancelled).
retry_requested = django.dispatch.Signal()
