"""The console's web framework: pages, the base layout, login, sessions and CSRF.

Adding a page (see also the README's "Console" section)::

    async def funnel(ctx: PageContext) -> web.StreamResponse:
        rows = ...  # query ctx.db
        return ctx.render("funnel.html.j2", title="Funnel", rows=rows)

    PAGES = [Page("/funnel", funnel, title="Funnel")]  # in bot/console/pages.py

- ``route`` is relative to ``/console``; ``title`` (optional) puts the page in the nav bar;
  ``method="POST"`` makes it an action: the framework checks its CSRF token (form field
  ``csrf`` or header ``X-CSRF-Token``) before the handler runs and logs the action with the
  operator's id; ``api=True`` answers 401 JSON instead of redirecting when there is no
  session.
- Every page requires a session; a handler never sees a request without one.
- Templates live in ``bot/console/templates`` and extend ``base.html.j2``; forms use the
  ``post_form`` macro of ``_forms.html.j2``, which adds the CSRF field.

Console templates have their own jinja2 environment, deliberately separate from the
content renderer (:mod:`bot.content.render`): that one is the sandboxed, per-locale
environment for merchant-facing text owned by content editors and tied to one content
release (it is rebuilt when content reloads); these are operator-facing pages owned by the
code, English only, that must keep working while content is broken or being reloaded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from multidict import MultiDictProxy
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.console.auth import Signed, Signer, secure_cookies, signing_key
from bot.storage.models import ConsoleLogin

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.content.loader import Content
    from bot.context import BotApp, BotData
    from bot.storage.db import Database

log = logging.getLogger("bot.console")

PREFIX = "/console"
COOKIE = "console_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
# Sent with every console response: no caching of operator data, no framing, no referrer
# (the login page's URL holds a token), scripts and styles from the console only.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

PageHandler = Callable[["PageContext"], Awaitable[web.StreamResponse]]
T = TypeVar("T")
CACHE_SECONDS = 30.0  # how long an aggregate page's figures are reused (PageContext.cached)
CACHE_ENTRIES = 256


@dataclass(frozen=True)
class Page:
    """One console route: its path under /console, handler, nav title and kind."""

    route: str
    handler: PageHandler
    title: str | None = None  # shown in the nav bar when set
    method: str = "GET"  # "POST": an action (CSRF checked, logged with the operator's id)
    api: bool = False  # True: 401 JSON without a session (pages redirect to the login page)
    # POST pages: log "operator N: POST /console/route" before the handler runs; False when
    # the handler writes its own audit line (ctx.audit) instead.
    audit: bool = True


class Console:
    """The console of one process: its pages, the template environment, the signer."""

    def __init__(self, application: BotApp, pages: Sequence[Page]) -> None:
        self.application = application
        self.pages = list(pages)
        # Results pages computed recently (PageContext.cached): key -> (computed at, value).
        self._cache: dict[str, tuple[float, Any]] = {}
        self.signer = Signer(signing_key(self.settings))
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["prefix"] = PREFIX
        self.env.filters["thousands"] = lambda n: f"{int(n):,}"

    @property
    def data(self) -> BotData:
        """The Application's shared data (database, content, settings, services)."""
        return self.application.bot_data

    @property
    def settings(self) -> Settings:
        """The process's settings."""
        return self.application.bot_data.settings

    def now(self) -> datetime:
        """The bot's clock (settable in tests)."""
        return self.application.bot_data.core.clock()

    def nav(self) -> list[tuple[str, str]]:
        """(title, URL) of the pages shown in the nav bar, in registration order."""
        return [(p.title, PREFIX + p.route) for p in self.pages if p.title and p.method == "GET"]

    # --- the aiohttp app ---------------------------------------------------------------

    def app(self) -> web.Application:
        """The console as an aiohttp sub-application, to mount at PREFIX."""
        sub = web.Application(middlewares=[_security_headers])
        sub.router.add_get("/login", self.login_page)
        sub.router.add_post("/login", self.login)
        sub.router.add_post("/logout", self.logout)
        sub.router.add_static("/static", STATIC)
        for page in self.pages:
            sub.router.add_route(page.method, page.route, self._guard(page))
        return sub

    def mount(self, app: web.Application) -> None:
        """Serve the console under /console of ``app`` (``/console`` itself redirects)."""

        async def bare(_request: web.Request) -> web.StreamResponse:
            return redirect(PREFIX + "/")

        app.router.add_get(PREFIX, bare)
        app.add_subapp(PREFIX, self.app())

    def standalone(self) -> web.Application:
        """An app of its own (CONSOLE_PORT): the console under /console, / redirects there."""
        app = web.Application()

        async def root(_request: web.Request) -> web.StreamResponse:
            return redirect(PREFIX + "/")

        app.router.add_get("/", root)
        self.mount(app)
        return app

    # --- sessions ----------------------------------------------------------------------

    def session_of(self, request: web.Request) -> Signed | None:
        """The request's valid session, for an operator still in ADMIN_IDS, or None."""
        session = self.signer.read_session(request.cookies.get(COOKIE), self.now())
        if session is None or session.operator_id not in self.settings.admin_ids:
            return None
        return session

    def _guard(self, page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = self.session_of(request)
            if session is None:
                if page.api:
                    return web.json_response({"error": "login required"}, status=401)
                return redirect(PREFIX + "/login")
            ctx = PageContext(self, request, session)
            if page.method != "GET":
                form = await request.post()
                given = request.headers.get(CSRF_HEADER) or _text(form.get(CSRF_FIELD))
                if not self.signer.csrf_ok(session, given):
                    log.warning(
                        "console: operator %d: %s %s refused (CSRF token missing or wrong)",
                        session.operator_id,
                        page.method,
                        request.path,
                    )
                    return ctx.render(
                        "message.html.j2",
                        title="Refused",
                        status=403,
                        message="This form has expired. Reload the page and try again.",
                    )
                if page.audit:
                    ctx.audit(f"{page.method} {request.path}")
            return await page.handler(ctx)

        return guarded

    # --- login and logout --------------------------------------------------------------

    def _message(self, title: str, message: str, status: int = 200) -> web.Response:
        html = self.env.get_template("message.html.j2").render(
            title=title, message=message, nav=[], operator=None, csrf_token=""
        )
        return web.Response(text=html, status=status, content_type="text/html")

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        """GET: the link's page; its button logs in (a link-preview fetcher only sees it)."""
        token = request.query.get("t")
        if token is None:
            return self._message(
                "Log in", "Send /console to the bot in Telegram to get a login link."
            )
        problem = self._link_problem(token)
        if problem is not None:
            return self._message("Login link not valid", problem, status=403)
        found = self.signer.read_link_token(token, self.now())
        if found is not None and await self._used(found):
            return self._used_message()
        html = self.env.get_template("login.html.j2").render(
            title="Log in", token=token, nav=[], operator=None, csrf_token=""
        )
        return web.Response(text=html, content_type="text/html")

    def _link_problem(self, token: str | None) -> str | None:
        found = self.signer.read_link_token(token, self.now())
        if found is None or found.operator_id not in self.settings.admin_ids:
            return "This login link is not valid. Send /console to the bot for a new one."
        if found.expires <= self.now():
            return "This login link has expired. Send /console to the bot for a new one."
        return None

    async def login(self, request: web.Request) -> web.StreamResponse:
        """POST: use the one-time link (once, on any instance), set the session cookie."""
        form = await request.post()
        token = _text(form.get("t"))
        problem = self._link_problem(token)
        found = self.signer.read_link_token(token, self.now())
        if problem is not None or found is None:
            log.warning("console: login refused (%s)", "bad or expired link")
            return self._message("Login link not valid", problem or "", status=403)
        if not await self._use(found):
            log.warning(
                "console: operator %d: login refused (link used before)", found.operator_id
            )
            return self._used_message()
        log.info("console: operator %d logged in", found.operator_id)
        response = redirect(PREFIX + "/")
        response.set_cookie(
            COOKIE,
            self.signer.session(found.operator_id, self.now()),
            path=PREFIX,
            httponly=True,
            secure=secure_cookies(self.settings),
            samesite="Strict",
        )
        return response

    def _used_message(self) -> web.Response:
        return self._message(
            "Login link already used",
            "This login link was used before. Send /console to the bot for a new one.",
            status=403,
        )

    async def _used(self, link: Signed) -> bool:
        """Whether the link logged someone in already (read-only: GET changes nothing)."""
        async with self.data.db.session() as session:
            return await session.get(ConsoleLogin, link.ident) is not None

    async def _use(self, link: Signed) -> bool:
        """Record the link as used; False when it was used before (any instance)."""
        now = self.now()
        db = self.data.db
        try:
            async with db.session() as session:
                await session.exec(delete(ConsoleLogin).where(col(ConsoleLogin.expires_at) < now))
                session.add(
                    ConsoleLogin(
                        jti=link.ident,
                        operator_id=link.operator_id,
                        used_at=now,
                        expires_at=link.expires,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """POST (with the CSRF token): forget the session cookie."""
        session = self.session_of(request)
        if session is not None:
            form = await request.post()
            if not self.signer.csrf_ok(session, _text(form.get(CSRF_FIELD))):
                return self._message("Refused", "This form has expired.", status=403)
            log.info("console: operator %d logged out", session.operator_id)
        response = redirect(PREFIX + "/login")
        response.del_cookie(COOKIE, path=PREFIX)
        return response


class PageContext:
    """What a page handler gets: the request, the operator, the database, rendering."""

    def __init__(self, console: Console, request: web.Request, session: Signed) -> None:
        self.console = console
        self.request = request
        self.session = session

    @property
    def operator_id(self) -> int:
        """The logged-in operator's Telegram id."""
        return self.session.operator_id

    @property
    def csrf_token(self) -> str:
        """This session's CSRF token (the post_form macro adds it to forms)."""
        return self.console.signer.csrf(self.session)

    @property
    def data(self) -> BotData:
        """The Application's shared data."""
        return self.console.data

    @property
    def db(self) -> Database:
        """The database."""
        return self.console.data.db

    @property
    def content(self) -> Content:
        """The content tree live now."""
        return self.console.data.content

    @property
    def settings(self) -> Settings:
        """The process's settings."""
        return self.console.settings

    def now(self) -> datetime:
        """The bot's clock."""
        return self.console.now()

    async def form(self) -> MultiDictProxy[str | bytes | Any]:
        """The POSTed form (already checked for its CSRF token)."""
        return await self.request.post()

    async def cached(
        self, key: str, compute: Callable[[], Awaitable[T]], *, seconds: float = CACHE_SECONDS
    ) -> tuple[T, float]:
        """``compute()``'s result, reused for ``seconds`` by every operator of this process
        (aggregates over all merchants need not be recomputed on every click); returns the
        value and its age in seconds."""
        now = time.monotonic()
        found = self.console._cache.get(key)
        if found is not None and now - found[0] < seconds:
            return found[1], now - found[0]
        value = await compute()
        cache = self.console._cache
        if len(cache) >= CACHE_ENTRIES:  # filters are free text: bound the memory
            for stale in [k for k, (at, _) in cache.items() if now - at >= seconds] or [
                next(iter(cache))
            ]:
                cache.pop(stale, None)
        cache[key] = (time.monotonic(), value)
        return value, 0.0

    def audit(self, action: str, **details: object) -> None:
        """One log line naming the operator and what they did."""
        extra = " ".join(f"{key}={value}" for key, value in details.items())
        log.info("console: operator %d: %s%s", self.operator_id, action, f" {extra}" * bool(extra))

    def render(
        self, template: str, *, title: str, status: int = 200, **context: Any
    ) -> web.Response:
        """Render a console template inside the base layout (nav, operator, CSRF token)."""
        html = self.console.env.get_template(template).render(
            title=title,
            nav=self.console.nav(),
            current=self.request.path,
            operator=self.operator_id,
            csrf_token=self.csrf_token,
            **context,
        )
        return web.Response(text=html, status=status, content_type="text/html")


def redirect(location: str) -> web.Response:
    """303 See Other to ``location`` (after a POST, the browser GETs it)."""
    return web.Response(status=303, headers={"Location": location})


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@web.middleware
async def _security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response
