"""``python -m bot content graph``: interview branches and step prerequisites as Graphviz."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content import graph
from bot.content.loader import Content
from tests.conftest import REPO


def test_the_dot_text_has_every_question_route_step_and_prerequisite(content: Content) -> None:
    dot = graph.to_dot(content)
    assert dot.startswith("digraph content {") and dot.rstrip().endswith("}")
    assert f"content version {content.hash}" in dot
    for qid in content.interview.questions:
        assert f'"q:{qid}" [label=' in dot
    # A branch with its condition, as the editor wrote it in interview.yaml.
    assert '"q:fulfilment" -> "q:shop_status" [label="platform = none"];' in dot
    assert '"q:uses" -> "q:end" [label="market only elsewhere"];' in dot
    assert r'label="platform = none\nmarket only elsewhere"' in dot
    for step in content.steps:
        assert f'"s:{step.id}" [label=' in dot
        for required in step.requires:
            assert f'"s:{required}" -> "s:{step.id}";' in dot
    assert any(step.requires for step in content.steps)
    # Titles are quoted safely (no stray quote ends a label early).
    for line in dot.splitlines():
        assert line.count('"') % 2 == 0 or '\\"' in line, line


def test_without_dot_the_cli_prints_dot_text() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "content", "graph"],
        capture_output=True,
        text=True,
        env={"PATH": ""},  # no Graphviz on this PATH
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("digraph content {")
    assert "dot is not installed" in done.stderr
    forced = subprocess.run(
        [sys.executable, "-m", "bot", "content", "graph", "--format", "svg"],
        capture_output=True,
        text=True,
        env={"PATH": ""},
        check=False,
        cwd=REPO,
    )
    assert forced.returncode == 2 and "--format dot" in forced.stderr


def test_without_dot_to_svg_says_none(monkeypatch: pytest.MonkeyPatch, content: Content) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    assert not graph.dot_available()
    assert graph.to_svg(graph.to_dot(content)) is None


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_with_dot_the_graph_is_svg(content: Content, tmp_path: Path) -> None:
    svg = graph.to_svg(graph.to_dot(content))
    assert svg is not None and "<svg" in svg
    titles = {html.unescape(t) for t in re.findall(r"<title>(.*?)</title>", svg)}
    assert "q:platform" in titles and f"s:{content.steps[0].id}" in titles
    (tmp_path / "tree.svg").write_text(svg, encoding="utf-8")
