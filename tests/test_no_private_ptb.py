"""PTB's private modules (``telegram._*``) are imported only where a comment says why."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_private_ptb_imports_carry_a_reason() -> None:
    unexplained = []
    for path in sorted(
        [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("handlers").rglob("*.py")]
    ):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if not re.match(r"\s*(from|import) telegram\._", line):
                continue
            above = lines[max(0, number - 6) : number]
            if not any(previous.lstrip().startswith("#") for previous in above):
                unexplained.append(f"{path.relative_to(ROOT)}:{number + 1}: {line.strip()}")
    assert not unexplained, "\n".join(unexplained)
