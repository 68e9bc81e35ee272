"""The tenancy API: teams, projects, memberships, tokens and the caller's own identity."""
