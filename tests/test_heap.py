"""The long-running modes take the start-up heap out of the collector's passes (issue 20),
and a content release lets the previous tree go (bot.modes.settle_heap)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Run in a child: a frozen object is never collected, so the test process must not freeze.
SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from pathlib import Path
    from bot.content.loader import load_content
    from bot.modes import settle_heap

    box = {"content": load_content(Path("content"))}
    box["self"] = box  # a cycle, as content trees have: only the collector frees it
    gone = weakref.ref(box["content"])
    settle_heap()
    frozen = gc.get_freeze_count()
    assert frozen > 50_000, frozen  # the tree is out of the collector's passes
    new = load_content(Path("content"))  # a content release
    del box
    gc.collect()
    assert gone() is not None  # frozen: full collections do not see it
    settle_heap(released=True)  # what a release does in a process that settled its heap
    assert gone() is None, "the previous content tree was kept"
    print("ok", frozen, gc.get_freeze_count())
    """
)


@pytest.mark.slow
def test_settled_heap_lets_a_released_content_tree_go() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")
