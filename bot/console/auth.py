"""Signed one-time login links, session cookies and CSRF tokens for the operator console.

Everything is an HMAC-SHA256 over a small text with one key (:func:`signing_key`):

- a **login link token** ``<operator>.<expires>.<jti>.<signature>`` lives in the link the
  bot sends (``PUBLIC_URL/console/login?t=...``) for :data:`LINK_TTL`; it logs in once: the
  login records its ``jti`` in the database (``console_login``), so a second use fails on
  every instance;
- a **session** ``<operator>.<expires>.<sid>.<signature>`` is the HttpOnly cookie set by the
  login, valid :data:`SESSION_TTL` and only while the operator is still in ``ADMIN_IDS``;
- the **CSRF token** of a session is a signature over its ``sid``: every form carries it and
  every POST must present it (a forged cross-site form cannot know it).

Stateless sessions work behind a load balancer without shared memory; logging out clears
the cookie; removing an operator from ``ADMIN_IDS`` (or changing the key) ends their sessions.
This module is pure: no database, no HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=12)
LOGIN_PATH = "/console/login"


def signing_key(settings: Settings) -> bytes:
    """CONSOLE_SECRET when set, else a key derived from the bot token (never the token).

    Deriving it means one less secret to manage; setting CONSOLE_SECRET keeps sessions when
    the token is rotated (and rotating CONSOLE_SECRET ends every session and link).
    """
    if settings.console_secret is not None:
        secret = settings.console_secret.get_secret_value().encode()
    else:
        secret = settings.token().encode()
    return hmac.new(secret, b"storefront-bot console signing key v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class Signed:
    """A verified token: who, until when, and its unique id (jti for links, sid for sessions)."""

    operator_id: int
    expires: datetime
    ident: str


class Signer:
    """Makes and checks link tokens, session values and CSRF tokens with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _sign(self, purpose: str, body: str) -> str:
        mac = hmac.new(self._key, f"{purpose}:{body}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def _make(self, purpose: str, operator_id: int, expires: datetime) -> str:
        body = f"{operator_id}.{int(expires.timestamp())}.{secrets.token_hex(16)}"
        return f"{body}.{self._sign(purpose, body)}"

    def _check(self, purpose: str, value: str | None, now: datetime) -> Signed | None:
        if not value or len(value) > 200:
            return None
        parts = value.split(".")
        if len(parts) != 4 or not all(parts):
            return None
        body = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], self._sign(purpose, body)):
            return None
        try:
            operator_id, expires_at = int(parts[0]), int(parts[1])
        except ValueError:
            return None
        expires = datetime.fromtimestamp(expires_at, tz=now.tzinfo)
        return Signed(operator_id, expires, parts[2])

    def link_token(self, operator_id: int, now: datetime) -> str:
        """A one-time login token for ``operator_id``, valid LINK_TTL from ``now``."""
        return self._make("login", operator_id, now + LINK_TTL)

    def read_link_token(self, value: str | None, now: datetime) -> Signed | None:
        """The token's content when its signature holds (expiry is checked by the caller)."""
        return self._check("login", value, now)

    def session(self, operator_id: int, now: datetime) -> str:
        """A session cookie value for ``operator_id``, valid SESSION_TTL."""
        return self._make("session", operator_id, now + SESSION_TTL)

    def read_session(self, value: str | None, now: datetime) -> Signed | None:
        """The session when its signature holds and it has not expired."""
        found = self._check("session", value, now)
        if found is None or found.expires <= now:
            return None
        return found

    def csrf(self, session: Signed) -> str:
        """The CSRF token of a session (the same for all its forms)."""
        return self._sign("csrf", session.ident)

    def csrf_ok(self, session: Signed, given: str | None) -> bool:
        """Whether ``given`` is this session's CSRF token (constant time)."""
        return given is not None and hmac.compare_digest(given, self.csrf(session))


def console_origin(settings: Settings) -> str | None:
    """Where operators reach the console: PUBLIC_URL, or localhost on CONSOLE_PORT."""
    if settings.public_url:
        return settings.public_url
    if settings.console_port is not None:
        return f"http://127.0.0.1:{settings.console_port}"
    return None


def login_link(settings: Settings, operator_id: int, now: datetime) -> str | None:
    """A fresh one-time login link for an operator, or None when no origin is configured."""
    origin = console_origin(settings)
    if origin is None:
        return None
    token = Signer(signing_key(settings)).link_token(operator_id, now)
    return f"{origin}{LOGIN_PATH}?t={token}"


def secure_cookies(settings: Settings) -> bool:
    """Cookies are marked Secure when operators reach the console over https."""
    return (console_origin(settings) or "").startswith("https://")
