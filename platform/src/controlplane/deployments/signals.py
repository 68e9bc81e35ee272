"""Signals of the deployments app, for the apps above it to take part in promotions."""

import django.dispatch

# Sent with `promotion` and `actor` before a person's API approval is recorded; a receiver that raises (a
# FlowyardError) refuses the approval. The gitops app refuses promotions a merge request drives: those are
# approved in the merge request.
promotion_approving = django.dispatch.Signal()

# Sent with `promotion_id` after the transaction that created a pending promotion commits.
promotion_requested = django.dispatch.Signal()

# Sent with `promotion_id` after the transaction that approved (and deployed) or rejected a promotion commits.
promotion_decided = django.dispatch.Signal()

# Sent with `environment_id` after the transaction that deleted an environment commits (its results are dropped).
environment_deleted = django.dispatch.Signal()
