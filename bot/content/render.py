"""The one jinja2 environment: sandboxed, HTML autoescape, StrictUndefined, per-locale."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, Template, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.content.loader import DEFAULT_LOCALE, Content


class LocaleLoader(BaseLoader):
    """Loads ``<name>`` for a locale from content/locales/<code>/templates, else English.

    Every template is read once, when the loader is made: a renderer keeps the templates
    of the tree it was built for, even if the folder changes under a running process (a
    content reload builds a new renderer after checking the new tree).
    """

    def __init__(self, locales_dir: Path) -> None:
        self.locales_dir = locales_dir
        self._sources: dict[str, tuple[str, str]] = {}
        for folder in sorted(locales_dir.glob("*/templates")):
            code = folder.parent.name
            for path in sorted(folder.rglob("*.j2")):  # subfolders too (broadcasts/)
                source = path.read_text(encoding="utf-8")
                name = path.relative_to(folder).as_posix()
                self._sources[f"{code}/{name}"] = (source, str(path))

    def get_source(
        self,
        environment: Any,  # noqa: ARG002 - signature fixed by jinja2
        template: str,
    ) -> tuple[str, str, Any]:
        """The template's source, its file, and an up-to-date check (always up to date)."""
        code, _, name = template.partition("/")
        for candidate in (code, DEFAULT_LOCALE):
            found = self._sources.get(f"{candidate}/{name}")
            if found is not None:
                return found[0], found[1], lambda: True
        raise TemplateNotFound(template)

    def list_templates(self) -> list[str]:
        """Every template of every locale, as ``<code>/<name>``."""
        return list(self._sources)


def _thousands(number: int) -> str:
    return f"{number:,}"


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


class Renderer:
    """Renders message templates and guidance bodies; the only jinja2 Environment."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self.env = ImmutableSandboxedEnvironment(
            loader=LocaleLoader(content.root / "locales"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self.env.filters["plural"] = _plural
        self.env.filters["thousands"] = _thousands
        self.env.globals["facts"] = content.facts
        self._compiled: dict[str, Template] = {}

    def template(self, code: str | None, name: str) -> Template:
        """A message template for a locale, falling back to English."""
        locale = self.content.locale(code).code
        return self.env.get_template(f"{locale}/{name}")

    def render(self, code: str | None, name: str, **context: Any) -> str:
        """Render a message template to Telegram HTML."""
        text = self.template(code, name).render(s=self.strings(code), **context)
        return tidy(text)

    def from_source(self, source: str, origin: str, filename: str | None = None) -> Template:
        """Compile (once) a template held in content, e.g. a guidance body.

        ``filename`` makes template errors and tracebacks point at the content file.
        """
        compiled = self._compiled.get(origin)
        if compiled is None:
            code = self.env.compile(source, name=origin, filename=filename or origin)
            compiled = self.env.template_class.from_code(
                self.env, code, self.env.make_globals(None)
            )
            self._compiled[origin] = compiled
        return compiled

    def render_source(
        self, source: str, origin: str, filename: str | None = None, **context: Any
    ) -> str:
        """Render a template held in content (guidance bodies, strings with variables)."""
        return tidy(self.from_source(source, origin, filename).render(**context))

    def strings(self, code: str | None) -> _Strings:
        """Strings for templates: ``s.buttons.back`` with English fallback per key."""
        return _Strings(self.content, code, ())

    def text(self, code: str | None, key: str, **context: Any) -> str:
        """One string by key, rendered as a template (HTML)."""
        source = str(self.content.string(code, key))
        if "{" not in source:
            return html.escape(source, quote=False)
        return self.render_source(
            source, f"string:{self.content.locale(code).code}:{key}", **context
        )

    def plain(self, code: str | None, key: str, **context: Any) -> str:
        """One string by key as plain text (for button labels and callback answers)."""
        source = str(self.content.string(code, key))
        if "{" not in source:
            return source
        return html.unescape(self.text(code, key, **context))


class _Strings:
    """Attribute access to locale strings with fallback, for templates (``s.x.y``)."""

    __slots__ = ("_code", "_content", "_prefix")

    def __init__(self, content: Content, code: str | None, prefix: tuple[str, ...]) -> None:
        self._content = content
        self._code = code
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        key = ".".join((*self._prefix, name))
        try:
            value = self._content.string(self._code, key)
        except KeyError:
            raise AttributeError(f"missing string {key}") from None
        if isinstance(value, Mapping):
            return _Strings(self._content, self._code, (*self._prefix, name))
        return value

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)


def tidy(text: str) -> str:
    """Trim every line's trailing spaces and collapse runs of blank lines."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out)
