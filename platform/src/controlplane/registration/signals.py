"""Signals of the registration app, for the apps above it (gitops) to listen to."""

from django.dispatch import Signal

# Sent inside the registration's transaction once a new version is recorded and deployed where the release rules
# sent it: `version` (WorkflowVersion), `deployment` (Deployment or None). The gitops app completes the
# merge-request promotions that were waiting for this build.
version_registered = Signal()
