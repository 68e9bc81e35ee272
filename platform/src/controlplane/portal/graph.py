"""A run's task graph: a DOT source of its task runs and their upstream keys, laid out by Graphviz into inline SVG.

Task keys come from workflow code, so nothing of them reaches the DOT source unescaped: node names are
generated (`t0`, `t1`, …) and labels are HTML-like labels with every character XML-escaped. `dot` runs with a
time limit on the source given on stdin; when it is missing, slow or fails, the page shows the task table with
a note instead. Each SVG node then gets `data-task-key` and `data-state`, and its tooltip says both.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)

DOT_TIMEOUT_SECONDS = 5
MAX_NODES = 400
CACHE_SECONDS = 3600
# The fill only repeats the state written in every node.
STATE_FILLS = {
    "SUCCEEDED": "#dafbe1", "CACHED": "#dafbe1", "FAILED": "#ffebe9", "UPSTREAM_FAILED": "#fff1e5",
    "RUNNING": "#ddf4ff", "RETRYING": "#fff8c5", "CANCELLED": "#eaeef2", "PENDING": "#f6f8fa",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NODE = re.compile(r'<g id="task_(\d+)" class="node">\s*<title>[^<]*</title>')


@dataclass(frozen=True)
class TaskGraph:
    """The drawn graph (`svg`, markup to embed), or why there is none (`note`)."""

    svg: str = ""
    note: str = ""


def _label_text(text: str) -> str:
    """Text as the inside of an HTML-like DOT label: no control characters, every markup character escaped."""
    return escape(_CONTROL.sub("", text), quote=True)


def upstream_keys(task_run: Any) -> list[str]:
    """The task keys this task run was given (empty for runners that do not report them)."""
    return list(getattr(task_run, "upstream_keys", None) or [])


def dot_source(task_runs: Sequence[Any]) -> str:
    """The DOT source of the graph: a node per task run, an edge from each upstream task run to its dependant."""
    index = {task.task_key: number for number, task in enumerate(task_runs)}
    lines = ["digraph tasks {", '  rankdir=LR; bgcolor="transparent";',
             '  node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=11];',
             '  edge [color="#57606a", arrowsize=0.7];']
    for number, task in enumerate(task_runs):
        state = str(task.state)
        label = f"{_label_text(task.task_key)}<BR/>{_label_text(state)}"
        if task.attempt and task.attempt > 1:
            label += f"<BR/>attempt {int(task.attempt)}"
        lines.append(f'  t{number} [id="task_{number}", label=<{label}>, fillcolor="{STATE_FILLS.get(state, "#ffffff")}"];')
    for number, task in enumerate(task_runs):
        for key in upstream_keys(task):
            if key in index and index[key] != number:
                lines.append(f"  t{index[key]} -> t{number};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _annotated(svg: str, task_runs: Sequence[Any]) -> str:
    """Graphviz's SVG without its prolog and comments, each node carrying its task key and state."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.DOTALL)

    def node(match: re.Match) -> str:
        task = task_runs[int(match.group(1))]
        key, state = escape(task.task_key, quote=True), escape(str(task.state), quote=True)
        return (f'<g id="task_{match.group(1)}" class="node" data-task-key="{key}" data-state="{state}">'
                f"<title>{key}: {state}</title>")

    return _NODE.sub(node, svg)


def _run_dot(source: str) -> str:
    """SVG from `dot -Tsvg`; raises OSError or SubprocessError when it cannot."""
    dot = shutil.which("dot")
    if dot is None:
        raise FileNotFoundError("dot")
    done = subprocess.run([dot, "-Tsvg"], input=source.encode(), capture_output=True, timeout=DOT_TIMEOUT_SECONDS,
                          check=True)
    return done.stdout.decode("utf-8")


def task_graph(task_runs: Sequence[Any]) -> TaskGraph:
    """The run's task graph as inline SVG, or a note saying why only the task table is shown."""
    if not task_runs:
        return TaskGraph(note="No task has reported yet.")
    if len(task_runs) > MAX_NODES:
        return TaskGraph(note=f"This run has {len(task_runs)} task runs, too many to draw (at most {MAX_NODES}); "
                              "see the task table.")
    source = dot_source(task_runs)
    cache_key = "portal:task-graph:" + hashlib.sha256(source.encode()).hexdigest()
    svg = cache.get(cache_key)
    if svg is None:
        try:
            svg = _annotated(_run_dot(source), task_runs)
        except FileNotFoundError:
            logger.warning("the task graph is not drawn: Graphviz `dot` is not installed")
            return TaskGraph(note="The task graph cannot be drawn here (Graphviz is not installed); see the task table.")
        except subprocess.TimeoutExpired:
            logger.warning("the task graph is not drawn: dot took longer than %s s", DOT_TIMEOUT_SECONDS)
            return TaskGraph(note="Drawing the task graph took too long; see the task table.")
        except (OSError, subprocess.SubprocessError, UnicodeDecodeError, ValueError) as exc:
            logger.warning("the task graph is not drawn: dot failed: %s", exc)
            return TaskGraph(note="The task graph could not be drawn; see the task table.")
        cache.set(cache_key, svg, CACHE_SECONDS)
    return TaskGraph(svg=svg)
