"""Signals of the costs app, for the apps above it (alerts) to hear about budgets without costs importing them."""

import django.dispatch

# Sent once per (project, month, threshold) after the transaction that recorded the crossing commits, with
# `project`, `threshold` (80 or 100, percent), `period` ("YYYY-MM", UTC), `spent` and `budget` (Decimal) and
# `currency` ("USD").
budget_crossed = django.dispatch.Signal()
