"""``python -m bot content check | preview | coverage | facts | graph``: the editors' tools."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime

from bot.botapi.tghtml import html_to_terminal
from bot.config import ConfigError, Settings
from bot.content import translations
from bot.content.check import Checker, check
from bot.content.facts import FactIndex, review_warnings
from bot.content.graph import to_dot, to_svg
from bot.content.loader import Content, ContentError, load_content
from bot.content.preview import preview
from bot.content.render import Renderer


def facts_report(content: Content, today: date) -> int:
    """``content facts``: every fact, oldest check first, with the steps citing it."""
    index = FactIndex(content, Renderer(content).env)
    uses = index.uses(today)
    overdue = [u for u in uses if u.overdue]
    print(f"facts by age as of {today.isoformat()} (oldest check first)\n")
    print(f"{'checked':<11} {'age':>5} {'review by':<11}  fact = value  (steps citing it)")
    for use in uses:
        fact = use.fact
        mark = "!" if use.overdue else " "
        steps = ", ".join(use.steps) or "not cited by any step"
        print(
            f"{fact.checked.isoformat():<11} {use.age_days:>4}d {fact.review_by.isoformat():<11}"
            f"{mark} {fact.path} = {fact.value}  ({steps})"
        )
    unused = sum(1 for u in uses if not u.steps)
    print(f"\n{len(uses)} facts, {unused} not cited by any step, {len(overdue)} past review")
    if overdue:
        print("\npast review (re-check the source, then set `_checked` in facts.yaml):")
        for use in overdue:
            fact = use.fact
            print(
                f"  facts.yaml:{fact.line}: {fact.path} (checked {fact.checked.isoformat()},"
                f" review by {fact.review_by.isoformat()})"
            )
    return 0


def graph(content: Content, form: str) -> int:
    """``content graph``: SVG from Graphviz's ``dot`` when installed, else the DOT text."""
    dot = to_dot(content)
    svg = to_svg(dot) if form in ("auto", "svg") else None
    if svg is not None:
        sys.stdout.write(svg)
        return 0
    if form == "svg":
        raise ConfigError("Graphviz's `dot` is not installed (or failed): use --format dot")
    if form == "auto":
        print("(Graphviz's dot is not installed: printing DOT text)", file=sys.stderr)
    sys.stdout.write(dot)
    return 0


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run one content task; print problems as ``path:line: problem``."""
    try:
        today = (
            date.fromisoformat(args.today)
            if getattr(args, "today", None)
            else datetime.now(UTC).date()
        )
    except ValueError:
        raise ConfigError(f"--today: {args.today!r} is not a date (YYYY-MM-DD)") from None
    if args.task == "check":
        content, problems = check(
            settings.content_dir, settings.deadline, jobs=min(2, os.cpu_count() or 1)
        )
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} problem(s) found", file=sys.stderr)
            return 1
        assert content is not None
        for warning in review_warnings(content, FactIndex(content, Renderer(content).env), today):
            print(warning)
        for warning in translations.warnings(content):
            print(warning)
        print(
            f"content OK: {len(content.steps)} steps,"
            f" {len(content.interview.questions)} questions,"
            f" locales: {', '.join(content.locales)}"
        )
        return 0
    try:
        content = load_content(settings.content_dir)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    if args.task == "facts":
        return facts_report(content, today)
    if args.task == "graph":
        return graph(content, args.format)
    if args.task == "translations":
        if args.stamp:
            try:
                changed = translations.stamp(content, args.stamp, tuple(args.force))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            for path in changed:
                print(f"stamped {path}")
            print(f"{len(changed)} file(s) stamped")
            return 0
        lines, code = translations.report(translations.status(content))
        for line in lines:
            print(line)
        return code
    checker = Checker(content, deadline=settings.deadline)
    if args.task == "coverage":
        rows = checker.coverage()
        markets = content.interview.question("market").options
        print("steps per platform x market (P = platform-specific, M = market-specific)\n")
        print(f"{'platform':<12}" + "".join(f"{m:>11}" for m in markets))
        by_pair = {(r.platform, r.market): r for r in rows}
        bad = 0
        for platform in content.interview.question("platform").options:
            cells = []
            for market in markets:
                row = by_pair[(platform, market)]
                cell = f"{row.total} P{len(row.platform_steps)} M{len(row.market_steps)}"
                if row.setup and (not row.platform_steps or not row.market_steps):
                    cell += "!"
                    bad += 1
                cells.append(f"{cell:>11}")
            print(f"{platform:<12}" + "".join(cells))
        print("\nplatform-specific steps by platform:")
        for platform in content.interview.question("platform").options:
            ids = sorted({i for r in rows if r.platform == platform for i in r.platform_steps})
            print(f"  {platform}: {', '.join(ids) or '-'}")
        print("market-specific steps by market:")
        for market in markets:
            ids = sorted({i for r in rows if r.market == market for i in r.market_steps})
            print(f"  {market}: {', '.join(ids) or '-'}")
        return 1 if bad else 0
    # preview
    try:
        shown = preview(
            content,
            checker.views,
            args.answer,
            lang=args.lang,
            now=datetime.now(UTC),
            deadline=checker.deadline,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if shown.assumed:
        assumed = ", ".join(f"{q}={shown.answers[q]}" for q in shown.assumed)
        print(f"(assumed, not given: {assumed})\n")
    print(html_to_terminal(shown.profile.text))
    print("\n" + "=" * 72 + "\n")
    print(html_to_terminal(shown.overview.text))
    for step, details in shown.steps:
        print("\n" + "-" * 72 + "\n")
        print(html_to_terminal(step.text))
        print()
        print(html_to_terminal(details.text))
    return 0
