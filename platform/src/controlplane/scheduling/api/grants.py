"""Scheduling API: grants."""

ROUTES: list = []  # (prefix, viewset, basename)
URLS: list = []  # plain django.urls.path() entries
