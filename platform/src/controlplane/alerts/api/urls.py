"""API routes of the alerts app."""

urlpatterns: list = []
