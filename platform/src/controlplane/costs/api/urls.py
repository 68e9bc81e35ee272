"""API routes of the costs app."""

urlpatterns: list = []
