"""Command line: ``python -m bot <mode>`` — argument parsing only; the modes live in bot.modes."""

from __future__ import annotations

import gc

if __name__ == "__main__":
    # Start-up imports make ~140,000 objects that live as long as the process (modules,
    # classes, functions); the collector's passes over them while they are made cost about
    # 0.15 s of a 1.3 s start (issue 20). So `python -m bot` collects nothing until the
    # imports are done (``_imports_done``); in-process callers (tests) are not affected.
    gc.disable()

import argparse
import os
import sys
from collections.abc import Sequence

from bot import version
from bot.config import ConfigError, load_settings
from bot.content.loader import ContentError
from bot.logs import setup_logging

EXIT_CONFIG = 2  # bad configuration or content (see bot.modes for the run-time codes)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description=(
            "Telegram assistant for merchants moving from TikTok Storefront to TikTok Shop."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    modes = parser.add_subparsers(dest="mode", metavar="MODE", required=True)
    modes.add_parser(
        "run", help="long-poll Telegram, serve merchants and send alerts (one process)"
    )
    modes.add_parser("serve", help="webhook web server on $HOST:$PORT (production web process)")
    modes.add_parser("remind", help="send due alerts only (production worker process)")
    demo = modes.add_parser("demo", help="talk to the real bot in this terminal, no token needed")
    demo.add_argument("--lang", default="en", help="your language code (default en)")
    demo.add_argument("--now", help="pretend it is this date/time (ISO 8601)")
    demo.add_argument("--deadline", help="pretend the shutdown is on this date (ISO 8601)")
    demo.add_argument(
        "--db", help="keep the demo's data in this database URL (default: a temporary one)"
    )
    demo.add_argument(
        "--files", help="folder for files the bot sends (default: ./demo-files)", default=None
    )
    link = modes.add_parser("link", help="print a t.me deep link that pre-fills answers")
    link.add_argument("--bot-username", help="the bot's username (default: ask Telegram)")
    link.add_argument("--answer", action="append", default=[], metavar="KEY=VALUE")
    link.add_argument("--step", help="open this guidance step")

    broadcast = modes.add_parser(
        "broadcast", help="message a segment of merchants through the outbox (dry run first)"
    )
    broadcast.add_argument(
        "--segment",
        action="append",
        default=[],
        metavar="FILTER",
        help="market=uk,de platform=shopify status=... lang=de stopped=market:3"
        " plan=not-opened idle=14 (repeat or space-separate; none: every merchant)",
    )
    what = broadcast.add_mutually_exclusive_group()
    what.add_argument("--template", help="a template in content/locales/*/templates/broadcasts")
    what.add_argument("--text", help="free text (Telegram HTML), the same in every language")
    broadcast.add_argument(
        "--dry-run", action="store_true", help="count, preview and estimate; send nothing"
    )
    broadcast.add_argument("--status", type=int, metavar="ID", help="a campaign's progress")
    broadcast.add_argument("--cancel", type=int, metavar="ID", help="cancel a campaign")
    broadcast.add_argument("--list", action="store_true", help="the latest campaigns")

    modes.add_parser(
        "doctor",
        help="check configuration, database, migrations and Telegram; say what to fix",
    )
    db = modes.add_parser("db", help="database tasks")
    db_tasks = db.add_subparsers(dest="task", metavar="TASK", required=True)
    db_tasks.add_parser("upgrade", help="apply migrations (also done automatically at start)")
    db_tasks.add_parser("current", help="the database's migration revision and the newest one")

    content = modes.add_parser("content", help="tools for content editors")
    tasks = content.add_subparsers(dest="task", metavar="TASK", required=True)
    tasks.add_parser("check", help="validate the whole content tree (exit 1 on problems)")
    preview = tasks.add_parser("preview", help="print the plan for some answers")
    preview.add_argument(
        "--answer",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an interview answer, e.g. platform=shopify (repeat; market=uk,de for several)",
    )
    preview.add_argument("--lang", default="en", help="locale (default en)")
    tasks.add_parser("coverage", help="steps per platform x market")
    graph = tasks.add_parser(
        "graph", help="interview branches and step prerequisites (SVG with Graphviz, else DOT)"
    )
    graph.add_argument(
        "--format",
        choices=("auto", "svg", "dot"),
        default="auto",
        help="auto (default): SVG when Graphviz's dot is installed, DOT text otherwise",
    )
    translations = tasks.add_parser(
        "translations",
        help="per locale: missing keys, templates and steps, stale ones, coverage",
    )
    translations.add_argument(
        "--stamp",
        metavar="LANG",
        help="record the current English source hash in LANG's translated steps lacking one",
    )
    translations.add_argument(
        "--force",
        action="append",
        default=[],
        metavar="STEP",
        help="with --stamp: re-stamp this step (after reviewing it against the English)",
    )
    facts = tasks.add_parser(
        "facts", help="facts by age, the steps citing each, and those past review"
    )
    facts.add_argument(
        "--today", help="judge review dates as of this day (YYYY-MM-DD; default: today)"
    )
    return parser


def _imports_done() -> None:
    """Collect again, with what the imports made taken out of the collector's passes.

    Only where ``python -m bot`` paused the collector (see the top of this file). Freezing
    without a collection first keeps the imports' few cyclic leftovers (~2,000 small
    objects, ~0.5 MB, measured) for the process's life instead of paying a full pass over
    everything (~0.1 s); the long-running modes freeze their loaded content the same way
    once it is loaded (``bot.modes.settle_heap``).
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    # PTB 22: RetryAfter.retry_after as a timedelta, without a deprecation warning.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    try:
        settings = load_settings()
        if args.mode == "content":
            from bot.content import cli

            _imports_done()
            return cli.main(args, settings)
        setup_logging(settings.log_level, settings.log_format, settings.secrets())
        # Imported here so that `content` tasks never load the Telegram stack.
        from bot import modes

        _imports_done()
        if args.mode == "doctor":
            return modes.doctor(settings)
        if args.mode == "db" and args.task == "current":
            return modes.db_current(settings)
        if args.mode == "db":
            return modes.db_upgrade(settings)
        if args.mode == "run":
            return modes.run(settings)
        if args.mode == "serve":
            return modes.serve(settings)
        if args.mode == "remind":
            return modes.remind(settings)
        if args.mode == "demo":
            return modes.demo(args, settings)
        if args.mode == "broadcast":
            return modes.broadcast(args, settings)
        if args.mode == "link":
            return modes.link(args, settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ContentError as exc:
        print("error: the content tree is broken:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
