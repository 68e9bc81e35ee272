"""Every API v1 route, read from Django's URL resolver, so new routes are swept automatically."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse


@dataclass(frozen=True)
class Route:
    """One named API route and the HTTP methods it answers, with the viewset action behind each."""

    name: str
    methods: dict[str, str]
    has_pk: bool

    @property
    def basename(self) -> str:
        """The router basename: 'run' for 'run-detail' and 'run-cancel'."""
        return self.name.rsplit("-", 1)[0] if self.name.rsplit("-", 1)[-1] in self.suffixes else self.name

    @property
    def suffixes(self) -> set[str]:
        """The last part of the name that is the action, not the basename."""
        return {"list", "detail", *self.methods.values()}

    def url(self, pk: object = None) -> str:
        """The route's URL, for the object `pk` when it has one."""
        return reverse(f"api:{self.name}", kwargs={"pk": pk} if self.has_pk else None)


def _walk(patterns, in_api: bool):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, in_api or pattern.namespace == "api")
        elif isinstance(pattern, URLPattern) and in_api:
            yield pattern


def api_routes() -> list[Route]:
    """All routes in the `api` namespace."""
    routes = []
    for pattern in _walk(get_resolver().url_patterns, False):
        callback = pattern.callback
        actions = getattr(callback, "actions", None)
        if actions is None:  # a plain APIView
            view_class = callback.view_class
            actions = {m: m for m in ("get", "post", "patch", "delete") if hasattr(view_class, m)}
        has_pk = "pk" in pattern.pattern.regex.groupindex
        routes.append(Route(name=pattern.name, methods=dict(actions), has_pk=has_pk))
    return routes


WRITE_METHODS = ("post", "patch", "delete")
