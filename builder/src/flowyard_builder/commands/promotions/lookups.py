"""What `flowyard promotions` looks up: the names behind a promotion's ids, the ids it is given, who decided it."""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Iterator
from typing import Any

from flowyard_builder.api_client import TOKEN_VARIABLE, ApiClient, NotFound, client_from_args
from flowyard_builder.commands.promotions.formatting import (
    CI_TOKEN_VARIABLE,
    MIN_ID_PREFIX_LENGTH,
    PROMOTION_OBJECT_TYPE,
    short_id,
)
from flowyard_builder.control_plane import Refused


def is_uuid(value: str) -> bool:
    """Whether `value` is a UUID, i.e. an id rather than a name."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class PromotionNames:
    """The names behind a promotion's ids (workflow, environments, version, project), each looked up once; the
    promotion's own `*_name` and `image_digest` fields are used when the API sends them."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._objects: dict[str, dict[str, Any]] = {}

    def remember(self, kind: str, objects: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> None:
        """Keep objects already fetched (e.g. a project's environments) so they are not asked for again."""
        for obj in objects:
            self._objects[f"/{kind}/{obj['id']}/"] = obj

    def lookup(self, kind: str, object_id: str | None) -> dict[str, Any]:
        """The object `/kind/{id}/`, or {} when there is no id or the caller may not see it."""
        if not object_id:
            return {}
        path = f"/{kind}/{object_id}/"
        if path not in self._objects:
            try:
                self._objects[path] = self.client.get(path)
            except Refused as exc:
                if exc.status is None:  # unreachable: no point asking for the next name
                    raise
                self._objects[path] = {}
        return self._objects[path]

    def workflow(self, promotion: dict[str, Any]) -> str:
        """The workflow's name."""
        return (promotion.get("workflow_name") or self.lookup("workflows", promotion.get("workflow")).get("name")
                or short_id(str(promotion.get("workflow"))))

    def environment(self, promotion: dict[str, Any], side: str) -> str:
        """The name of the `source` or `target` environment."""
        object_id = promotion.get(f"{side}_environment")
        return (promotion.get(f"{side}_environment_name") or self.lookup("environments", object_id).get("name")
                or short_id(str(object_id)))

    def version(self, promotion: dict[str, Any], details: bool = False) -> dict[str, Any]:
        """The promoted version: its image digest at least, looked up only when the promotion lacks it or with
        `details` (image, commit, branch, author)."""
        wanted = details or not promotion.get("image_digest")
        version = self.lookup("versions", promotion.get("version")) if wanted else {}
        return {**version, "image_digest": promotion.get("image_digest") or version.get("image_digest")}

    def project_slug(self, promotion: dict[str, Any]) -> str:
        """The slug of the workflow's project ("?" when it cannot be seen)."""
        project_id = self.lookup("workflows", promotion.get("workflow")).get("project")
        return self.lookup("projects", project_id).get("slug") or "?"


# -- resolving what the command line names -------------------------------------------------------------------

def resolve_promotion_id(client: ApiClient, value: str) -> str:
    """A full promotion id from an id or a unique prefix of one; ValueError or NotFound saying what to give."""
    value = value.strip().lower()
    if is_uuid(value):
        return str(uuid.UUID(value))
    if len(value) < MIN_ID_PREFIX_LENGTH or any(char not in "0123456789abcdef-" for char in value):
        raise ValueError(f"{value!r} is not a promotion id: give its UUID or at least its first {MIN_ID_PREFIX_LENGTH} "
                         "characters, as `flowyard promotions list PROJECT` shows them")
    matches: list[str] = []
    for promotion in client.iterate("/promotions/"):
        if promotion["id"].startswith(value):
            matches.append(promotion["id"])
            if len(matches) > 1:
                raise NotFound(f"{value!r} is the start of several promotion ids ({', '.join(matches)}, …); "
                               "give more characters or the whole id")
    if not matches:
        raise NotFound(f"no promotion that you can see has an id starting with {value!r}; "
                       "`flowyard promotions list PROJECT` shows them")
    return matches[0]


def environment_id(client: ApiClient, project: dict[str, Any], name: str, option: str) -> str:
    """The id of the project's environment `name` (an id is taken as it is); NotFound lists the ones it has."""
    if is_uuid(name):
        return name
    for environment in client.iterate("/environments/", {"project": project["id"], "name": name}, limit=1):
        return environment["id"]
    names = [environment["name"] for environment in client.iterate("/environments/", {"project": project["id"]})
             if not environment.get("torn_down_at")]
    raise NotFound(f"{option} {name!r}: project {project['slug']!r} has no such environment "
                   f"(it has: {', '.join(names) or 'none'})")


def client_for(args: argparse.Namespace, allow_ci_token: bool = False) -> ApiClient:
    """The client of --api/--token; for `request` a CI's $FLOWYARD_CI_TOKEN stands in for a missing token."""
    if allow_ci_token and not args.token and not os.environ.get(TOKEN_VARIABLE) and os.environ.get(CI_TOKEN_VARIABLE):
        args.token = os.environ[CI_TOKEN_VARIABLE]
    return client_from_args(args)


def decided_by(client: ApiClient, promotion: dict[str, Any]) -> str:
    """Who approved or rejected a decided promotion: the API's field when it sends one, else the audit log's."""
    label = promotion.get("decided_by_label") or promotion.get("decided_by")
    if label or promotion.get("state") not in ("APPROVED", "REJECTED"):
        return str(label or "")
    query = {"object_type": PROMOTION_OBJECT_TYPE, "object_id": promotion["id"],
             "action": f"promotion.{promotion['state'].lower()}"}
    try:
        for event in client.iterate("/audit-events/", query, limit=1):
            return str(event.get("actor_label") or "")
    except Refused as exc:
        if exc.status is None:
            raise
    return ""
