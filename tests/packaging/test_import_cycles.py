"""No package of ours has an import cycle, counting the imports made only under `if TYPE_CHECKING:`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import grimp
import pytest

PACKAGES = ["controlplane", "flowyard", "flowyard_builder", "flowyard_spec"]


def strongly_connected_components(
    nodes: Iterable[str], successors: Callable[[str], Iterable[str]]
) -> list[list[str]]:
    """The strongly connected components of a directed graph (Tarjan's algorithm, iterative), each sorted."""
    index_of: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in sorted(nodes):
        if root in index_of:
            continue
        index_of[root] = lowlink[root] = len(index_of)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(sorted(successors(root))))]
        while work:
            node, pending = work[-1]
            for successor in pending:
                if successor not in index_of:
                    index_of[successor] = lowlink[successor] = len(index_of)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(successors(successor)))))
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index_of[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index_of[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def import_cycles(package: str) -> list[list[str]]:
    """The groups of modules of `package` that import each other in a circle (TYPE_CHECKING imports included)."""
    graph = grimp.build_graph(package, cache_dir=None)
    modules = graph.modules

    def imported_by(module: str) -> set[str]:
        return {imported for imported in graph.find_modules_directly_imported_by(module) if imported in modules}

    return [component for component in strongly_connected_components(modules, imported_by) if len(component) > 1]


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_has_no_import_cycle(package):
    cycles = import_cycles(package)
    assert not cycles, f"{package} has import cycles:\n" + "\n".join(
        f"  {len(cycle)} modules: {', '.join(cycle)}" for cycle in cycles
    )


def test_the_cycle_check_finds_a_cycle():
    """The check is live: in a hand-made graph, the circle a→b→c→a is found and nothing else counts as one."""
    edges = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": [], "f": ["f"]}
    components = strongly_connected_components(edges, lambda node: edges[node])
    assert sorted(components) == [["a", "b", "c"], ["d"], ["e"], ["f"]]
    assert [c for c in components if len(c) > 1] == [["a", "b", "c"]]
