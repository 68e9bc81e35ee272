"""Signals of the deployments app, for the apps above it to take part in promotions."""

import django.dispatch

# Sent with `promotion` and `actor` before a person's API approval is recorded; a receiver that raises (a
# FlowyardError) refuses the approval. The gitops app refuses promotions a merge request drives: those are
# approved in the merge request.
promotion_approving = django.dispatch.Signal()
