"""Signals of the sso app, for the apps above it."""

from django.dispatch import Signal

# Sent after a person signed in (browser or CLI) or was re-checked, with `user` and `identity`
# (controlplane.sso.identity.Identity); gitops records the identity's forge login.
person_signed_in = Signal()
