"""Forge REST clients (GitLab, GitHub): commit statuses and one merge-request comment kept up to date."""

from controlplane.gitops.forges.base import CommitState, ForgeClient, ForgeError, ForgeRefused, ForgeUnavailable
from controlplane.gitops.forges.github import GitHubClient
from controlplane.gitops.forges.gitlab import GitLabClient

FORGE_CLIENTS: dict[str, type[ForgeClient]] = {"gitlab": GitLabClient, "github": GitHubClient}

__all__ = ["FORGE_CLIENTS", "CommitState", "ForgeClient", "ForgeError", "ForgeRefused", "ForgeUnavailable",
           "GitHubClient", "GitLabClient", "forge_client"]


def forge_client(forge: str, api_url: str, token: str, **kwargs) -> ForgeClient:
    """A client of `forge` ("gitlab" or "github") at `api_url`; keyword arguments go to the client (timeout,
    session)."""
    try:
        client_class = FORGE_CLIENTS[forge]
    except (KeyError, TypeError):
        raise ValueError(f"unknown forge {forge!r}: expected one of {', '.join(sorted(FORGE_CLIENTS))}") from None
    return client_class(api_url, token, **kwargs)
