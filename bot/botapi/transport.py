"""The Bot API transport: python-telegram-bot's ``BaseRequest`` over an aiohttp client.

PTB's default transport is httpx. Under load it was the largest single cost of an update in
the bot process (about 2 ms of CPU per Bot API call on the benchmark machine, measured with
py-spy; see benchmarks/README.md): httpx and httpcore are pure Python from the request
builder down to the HTTP/1.1 state machine, and httpcore looks for ``sniffio`` with a failed
import on every call when it is not installed. aiohttp, which the bot already ships for its
web server, parses HTTP in C and pools connections with less ceremony.

Behaviour matches ``HTTPXRequest`` where the bot depends on it: multipart uploads for files,
per-call timeouts (``TimedOut``) and network errors (``NetworkError``), a bounded connection
pool, proxies from ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` unless ``NO_PROXY`` covers
the host. Two differences: parameters go as one JSON body (the Bot API takes
``application/json`` for everything but uploads, and it saves percent-encoding the
JSON-encoded parameters again), and aiohttp has no separate write timeout, so an upload is
bounded by the read timeout plus the media write timeout instead.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from typing import Any

import aiohttp

# PTB's BaseRequest.do_request signature is typed with these and defaults its timeouts to
# a DefaultValue sentinel; PTB exports neither publicly, and telling "not given" apart from
# an explicit None needs the sentinel's class. Pinned by python-telegram-bot==22.*.
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_JSON = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """Send Bot API requests with one pooled ``aiohttp.ClientSession``."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # Proxies from the environment, resolved once per host (aiohttp's trust_env reads
        # ~/.netrc and the environment in a thread on every request).
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout, in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the client session (inside the running event loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
                skip_auto_headers=("Accept-Encoding",),
            )

    async def shutdown(self) -> None:
        """Close every pooled connection."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one request; returns the status code and the raw body."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if files and request_data else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        write: float | None
        if isinstance(write_timeout, DefaultValue):
            write = self._media_write_timeout if files else self._write_timeout
        else:
            write = write_timeout
        # Parameters go as one JSON body (the Bot API takes application/json except for
        # uploads): cheaper than percent-encoding every JSON-encoded parameter again.
        headers = None if files else _JSON
        data: Any = _form(fields, files) if files else (request_data and request_data.json_payload)
        timeout = aiohttp.ClientTimeout(
            total=_sum(read, write) if files else None,
            # aiohttp's "connect" covers waiting for a pooled connection and opening one.
            connect=_sum(pool, connect),
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=timeout,
                proxy=self._proxy_for(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _proxy_for(self, url: str) -> str | None:
        """HTTPS_PROXY / HTTP_PROXY / ALL_PROXY for this URL unless NO_PROXY covers its host."""
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            proxy = proxies.get(parts.scheme) or proxies.get("all")
            if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
                proxy = None
            self._proxies[key] = proxy or None
        return self._proxies[key]


def _sum(*parts: float | None) -> float | None:
    """The sum of timeouts, or None (no limit) when any of them is unlimited."""
    if any(part is None for part in parts):
        return None
    return sum(part for part in parts if part is not None)


def _form(fields: dict[str, str] | None, files: dict[str, Any]) -> aiohttp.FormData:
    """A multipart body: the parameters as fields, then the files."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in (fields or {}).items():
        form.add_field(name, value)
    for name, part in files.items():
        # PTB hands files as httpx does: (filename, content[, mimetype]).
        filename, content, *rest = part
        form.add_field(name, content, filename=filename, content_type=rest[0] if rest else None)
    return form
