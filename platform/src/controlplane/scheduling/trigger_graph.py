"""The graph of upstream triggers, to refuse at registration a version whose `on_success` would close a loop.

A node is a workflow (project, name). A workflow's edges are the `on_success` targets of every environment of
its newest registered version and of each version deployed anywhere (their union: a loop in any combination is
refused, which is stricter than looking at one environment at a time). A version being registered contributes
its own edges instead of its workflow's. An edge into another project counts only where that project granted
the source project (TriggerGrant), since without a grant it starts nothing.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pydantic import ValidationError

from controlplane.core.errors import ValidationFailed
from controlplane.deployments.models import Deployment
from controlplane.scheduling.grants import granted_project
from controlplane.tenancy.models import Project
from controlplane.workflows.models import Workflow, WorkflowVersion
from flowyard_spec.config import TRIGGER_TARGET_PATTERN, parse_config

Node = tuple[Any, str]  # (project id, workflow name)
CYCLE_FIELD = "config.triggers.on_success"


def config_targets(config: dict[str, Any]) -> set[str]:
    """Every `on_success` target of a config, in its base and in each environment's overrides."""
    try:
        parsed = parse_config(config)
    except ValidationError:  # a config stored under an older schema: it has no edges we can read
        return set()
    targets = set(parsed.triggers.on_success)
    for name in parsed.environments:
        targets |= set(parsed.for_environment(name).triggers.on_success)
    return targets


class TriggerGraph:
    """Edges read from the database on demand, with the configs of one version being registered put first."""

    def __init__(self, home: Project, node: Node, config: dict[str, Any]) -> None:
        self.home = home
        self.node = node
        self.config = config
        self._projects: dict[Any, Project] = {home.pk: home}

    def project(self, pk: Any) -> Project:
        """A project by id (cached)."""
        if pk not in self._projects:
            self._projects[pk] = Project.objects.get(pk=pk)
        return self._projects[pk]

    def resolve(self, source: Node, target: str) -> Node | None:
        """The node a target of `source` names, or None when it starts nothing (no such project, no grant)."""
        match = TRIGGER_TARGET_PATTERN.match(target)
        if match is None:
            return None
        project = granted_project(self.project(source[0]), match.group("project"))
        if project is None:
            return None
        self._projects.setdefault(project.pk, project)
        return project.pk, match.group("workflow")

    def configs(self, node: Node) -> list[dict[str, Any]]:
        """The configs whose triggers a node's runs follow: the one being registered, or the stored ones."""
        if node == self.node:
            return [self.config]
        workflow = Workflow.objects.filter(project_id=node[0], name=node[1]).first()
        if workflow is None:
            return []
        versions = WorkflowVersion.objects.filter(workflow=workflow)
        newest = versions.order_by("-created_at", "-pk").values_list("config", flat=True).first()
        deployed = Deployment.objects.filter(workflow=workflow, version__isnull=False).values_list(
            "version__config", flat=True)
        return [config for config in (newest, *deployed) if config is not None]

    def edges(self, node: Node) -> list[Node]:
        """The nodes a node's success may start."""
        targets = set().union(*(config_targets(config) for config in self.configs(node)))
        found = {self.resolve(node, target) for target in sorted(targets)}
        return sorted((edge for edge in found if edge is not None), key=lambda edge: (str(edge[0]), edge[1]))

    def label(self, node: Node) -> str:
        """A node's name as its project's people write it: bare at home, 'project/workflow' elsewhere."""
        return node[1] if node[0] == self.home.pk else f"{self.project(node[0]).slug}/{node[1]}"

    def shortest_cycle(self) -> list[Node] | None:
        """The shortest path from the registered node back to itself, if its edges close a loop."""
        parents: dict[Node, Node | None] = {}
        queue = deque([(self.node, None)])
        seen: set[Node] = set()
        while queue:
            node, parent = queue.popleft()
            if node == self.node and parent is not None:
                path = [node]
                step: Node | None = parent
                while step is not None and step != self.node:
                    path.append(step)
                    step = parents.get(step)
                return [self.node, *reversed(path)]
            if node in seen:
                continue
            seen.add(node)
            parents.setdefault(node, parent)
            for edge in self.edges(node):
                if edge == self.node or edge not in seen:
                    queue.append((edge, node))
        return None


def check_trigger_cycles(project: Project, workflow_name: str, config: dict[str, Any]) -> None:
    """Raise ValidationFailed on `config.triggers.on_success` naming the loop (a → b → a) when registering
    `config` for workflow `workflow_name` of `project` would let a run start itself again through its triggers."""
    if not config_targets(config):
        return
    graph = TriggerGraph(project, (project.pk, workflow_name), config)
    cycle = graph.shortest_cycle()
    if cycle is not None:
        loop = " → ".join(graph.label(node) for node in cycle)
        raise ValidationFailed({CYCLE_FIELD: [
            f"These triggers would make a loop: {loop}. A run would start itself again; remove one of the "
            f"on_success targets of this loop."]})
