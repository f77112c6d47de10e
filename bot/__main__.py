"""Command line: ``python -m bot <mode>``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from bot.config import ConfigError, Settings, load_settings
from bot.content import Content, ContentError

log = logging.getLogger("bot")

EXIT_CONFIG = 2  # bad configuration or content (see bot.lifecycle for the run-time codes)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description=(
            "Telegram assistant for merchants moving from TikTok Storefront to TikTok Shop."
        ),
    )
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
    link = modes.add_parser("link", help="print a t.me deep link that pre-fills answers")
    link.add_argument("--bot-username", help="the bot's username (default: ask Telegram)")
    link.add_argument("--answer", action="append", default=[], metavar="KEY=VALUE")
    link.add_argument("--step", help="open this guidance step")

    db = modes.add_parser("db", help="database tasks")
    db_tasks = db.add_subparsers(dest="task", metavar="TASK", required=True)
    db_tasks.add_parser("upgrade", help="apply migrations (also done automatically at start)")

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    # PTB 22: RetryAfter.retry_after as a timedelta, without a deprecation warning.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    try:
        settings = load_settings()
        if args.mode == "content":
            from bot import checker

            return checker.main(args, settings)
        from bot.logs import setup_logging

        setup_logging(settings.log_level, settings.log_format, settings.secrets())
        if args.mode == "db":
            return asyncio.run(_db_upgrade(settings))
        if args.mode == "run":
            return _run(settings)
        if args.mode == "serve":
            from bot import web

            return web.main(settings)
        if args.mode == "remind":
            from bot import outbox

            return outbox.main(settings)
        if args.mode == "demo":
            from bot import demo as demo_mode

            return demo_mode.main(args, settings)
        if args.mode == "link":
            from bot import links

            return links.main(args, settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ContentError as exc:
        print("error: the content tree is broken:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_CONFIG


async def _db_upgrade(settings: Settings) -> int:
    from bot import lifecycle

    try:
        db = await lifecycle.open_database(settings)
    except lifecycle.StartupError as exc:
        lifecycle.fail(exc.message, settings)
        return exc.code
    await db.dispose()
    print(f"database is up to date ({db.dialect})")
    return 0


def _run(settings: Settings) -> int:
    settings.token()  # fail fast, before touching anything else
    from bot.checker import load_checked

    content = load_checked(settings.content_dir, settings.deadline)
    return asyncio.run(_poll(settings, content))


async def _poll(settings: Settings, content: Content) -> int:
    from bot import lifecycle
    from bot.app import ALLOWED_UPDATES, build_application

    try:
        app = await lifecycle.open_app(
            settings, lambda db: build_application(settings, content=content, db=db)
        )
    except lifecycle.StartupError as exc:
        lifecycle.fail(exc.message, settings)
        return exc.code
    stop = lifecycle.stop_on_signals()
    where = settings.telegram_base_url
    try:
        await app.start()
        assert app.updater is not None
        # Network blips while polling are retried by the updater with back-off.
        await app.updater.start_polling(
            allowed_updates=ALLOWED_UPDATES,
            bootstrap_retries=-1,
            error_callback=lambda exc: log.warning(
                "polling %s failed (%s: %s); retrying", where, type(exc).__name__, exc
            ),
        )
        log.info("polling %s as @%s", where, app.bot.username)
        async with lifecycle.running_loops(app, stop):
            await stop.wait()
            log.info("stopping")
    finally:
        await lifecycle.close(app)
    return lifecycle.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
