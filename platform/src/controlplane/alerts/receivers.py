"""Receivers of the lower apps' signals (connected in apps.ready)."""
