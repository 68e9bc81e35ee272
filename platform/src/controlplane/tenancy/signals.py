"""Signals of the tenancy app: how apps above it take part in tenancy writes without tenancy importing them."""

import django.dispatch

# Sent with `project` inside the transaction that creates it: receivers create what every project comes with
# (deployments: its `test` and `production` environments). A receiver that raises rolls the project back.
project_created = django.dispatch.Signal()
