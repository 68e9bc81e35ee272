"""Scheduling API: webhooks."""

ROUTES: list = []  # (prefix, viewset, basename)
URLS: list = []  # plain django.urls.path() entries
