"""Non-user principals that can authenticate to the API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CIPrincipal:
    """A CI pipeline acting through a project token: it holds no role, only the CI allowances."""

    token_id: object
    token_name: str
    project_id: object
    project_slug: str

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    @property
    def audit_label(self) -> str:
        """How the audit log names this principal."""
        return f"ci-token:{self.token_name}@{self.project_slug}"

    def get_username(self) -> str:
        """The label, so code that names users can name CI principals too."""
        return self.audit_label

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """CI principals hold no Django permission."""
        return False


@dataclass(frozen=True)
class RunnerPrincipal:
    """The runner inside one run's container, acting through that run's token: it may only report on that run."""

    run_id: object

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    @property
    def audit_label(self) -> str:
        """How the audit log names this principal."""
        return f"runner:{self.run_id}"

    def get_username(self) -> str:
        """The label, so code that names users can name runners too."""
        return self.audit_label

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """Runners hold no Django permission."""
        return False


def is_runner(principal: object) -> bool:
    """True when the caller is the runner of a run."""
    return isinstance(principal, RunnerPrincipal)


def is_person(principal: object) -> bool:
    """True when the caller is an authenticated person (not a CI pipeline or a runner)."""
    return getattr(principal, "is_authenticated", False) and not isinstance(principal, (CIPrincipal, RunnerPrincipal))


def is_ci(principal: object) -> bool:
    """True when the caller is a CI pipeline rather than a person."""
    return isinstance(principal, CIPrincipal)
