"""Signals other apps listen to: `run_ended` is sent once a run's terminal state is committed."""

import django.dispatch

# Sent with `run_id` after the transaction that made the run terminal commits (never inside it).
run_ended = django.dispatch.Signal()
