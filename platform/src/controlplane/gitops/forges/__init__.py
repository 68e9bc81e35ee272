"""Forge REST clients (GitLab, GitHub): commit statuses and one merge-request comment kept up to date."""
