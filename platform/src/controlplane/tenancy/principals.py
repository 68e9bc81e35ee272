"""Non-user principals that can authenticate to the API: CI pipelines and runners, each through a token."""

from __future__ import annotations

from dataclasses import dataclass


class TokenPrincipal:
    """What a principal acting through a token (not a person) looks like to Django and DRF: authenticated, no
    Django permission, no staff rights, no user row; the audit log names it by `audit_label`."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    @property
    def audit_label(self) -> str:
        """How the audit log names this principal."""
        raise NotImplementedError

    def get_username(self) -> str:
        """The label, so code that names users can name token principals too."""
        return self.audit_label

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """Token principals hold no Django permission."""
        return False


@dataclass(frozen=True)
class CIPrincipal(TokenPrincipal):
    """A CI pipeline acting through a project token: it holds no role, only the CI allowances."""

    token_id: object
    token_name: str
    project_id: object
    project_slug: str

    @property
    def audit_label(self) -> str:
        """`ci-token:<name>@<project>`."""
        return f"ci-token:{self.token_name}@{self.project_slug}"


@dataclass(frozen=True)
class RunnerPrincipal(TokenPrincipal):
    """The runner inside one run's container, acting through that run's token: it may only report on that run."""

    run_id: object

    @property
    def audit_label(self) -> str:
        """`runner:<run id>`."""
        return f"runner:{self.run_id}"


def is_runner(principal: object) -> bool:
    """True when the caller is the runner of a run."""
    return isinstance(principal, RunnerPrincipal)


def is_person(principal: object) -> bool:
    """True when the caller is an authenticated person (not a CI pipeline or a runner)."""
    return getattr(principal, "is_authenticated", False) and not isinstance(principal, TokenPrincipal)


def is_ci(principal: object) -> bool:
    """True when the caller is a CI pipeline rather than a person."""
    return isinstance(principal, CIPrincipal)
