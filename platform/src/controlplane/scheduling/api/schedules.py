"""Scheduling API: schedules."""

ROUTES: list = []  # (prefix, viewset, basename)
URLS: list = []  # plain django.urls.path() entries
