"""The content as a picture: interview branches and step prerequisites, in Graphviz DOT.

``python -m bot content graph > tree.svg`` and the console's Content page use it. SVG comes
from Graphviz's ``dot`` when it is installed; without it the DOT text is the answer (paste it
into any Graphviz viewer).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping

from bot.content.loader import Content
from bot.domain.interview import END, Route

#: Seconds ``dot`` may take before the DOT text is used instead.
DOT_TIMEOUT = 30.0


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _conditions(conditions: Mapping[str, Iterable[str]], sign: str = "=") -> str:
    return "\n".join(
        f"{key} {sign} {' | '.join(sorted(values))}" for key, values in conditions.items()
    )


def _route_label(route: Route) -> str:
    """A branch's conditions: ``key = a | b`` (one of), ``key only a | b`` (nothing else)."""
    return "\n".join(
        part for part in (_conditions(route.when), _conditions(route.only, "only")) if part
    )


def _label(content: Content, key: str, fallback: str) -> str:
    try:
        value = content.string(None, key)
    except KeyError:
        return fallback
    return str(value) if isinstance(value, str) else fallback


def to_dot(content: Content) -> str:
    """The interview's branches and the plan's ``requires`` as one DOT digraph."""
    interview = content.interview
    lines = [
        "digraph content {",
        "  rankdir=LR;",
        '  graph [fontname="Helvetica", fontsize=11];',
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
        f"  label={_quote(f'content version {content.hash}')};",
        "  subgraph cluster_interview {",
        '    label="Interview: questions and where each answer leads";',
        "    style=rounded;",
        '    node [shape=box, style="rounded"];',
        f'    {_quote("q:" + END)} [label="end of the interview", shape=doublecircle];',
    ]
    for qid, question in interview.questions.items():
        title = _label(content, f"questions.{qid}.label", qid)
        extra = " (start)" if qid == interview.start else ""
        label = _quote(f"{title}{extra}\n[{qid}, {question.kind}]")
        lines.append(f"    {_quote('q:' + qid)} [label={label}];")
    for qid, question in interview.questions.items():
        for route in question.routes:
            label = _route_label(route)
            attrs = f" [label={_quote(label)}]" if label else ""
            lines.append(f"    {_quote('q:' + qid)} -> {_quote('q:' + route.goto)}{attrs};")
    lines += [
        "  }",
        "  subgraph cluster_plan {",
        '    label="Plan: steps (arrows: required before)";',
        "    style=rounded;",
        "    node [shape=note];",
    ]
    shapes = {"blocking": "octagon", "background": "folder"}
    for step in content.steps:
        parts = [step.title, f"[{step.id} v{step.version}, {step.kind}]"]
        if step.when:
            parts.append("when " + _conditions(step.when).replace("\n", "; "))
        if step.only:
            parts.append(_conditions(step.only, "only").replace("\n", "; "))
        if step.unless:
            parts.append("unless " + _conditions(step.unless).replace("\n", "; "))
        shape = shapes.get(step.kind, "note")
        label = _quote("\n".join(parts))
        lines.append(f"    {_quote('s:' + step.id)} [label={label}, shape={shape}];")
    for step in content.steps:
        for required in step.requires:
            lines.append(f"    {_quote('s:' + required)} -> {_quote('s:' + step.id)};")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def dot_available() -> bool:
    """Whether Graphviz's ``dot`` is on the PATH."""
    return shutil.which("dot") is not None


def to_svg(dot: str) -> str | None:
    """SVG drawn by Graphviz, or None when ``dot`` is missing or fails."""
    program = shutil.which("dot")
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, "-Tsvg"],
            input=dot.encode(),
            capture_output=True,
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace")
