"""The one jinja2 environment: sandboxed, HTML autoescape, StrictUndefined, per-locale."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, Template, TemplateNotFound, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from bot.content import values
from bot.content.loader import DEFAULT_LOCALE, LOCALE_CODE, Content


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
                source = path.read_text(encoding="utf-8-sig")  # checked by load_content
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


#: The template name of a string rendered by key: ``string:<lang>:<key>`` (``content check``
#: reports a problem in it at the string's file and line).
STRING_ORIGIN = "string:"


def _lang(context: Context) -> str:
    """The language a filter formats for: the render's, or (in an imported macro file)
    the one of the template's folder."""
    found = context.get("_lang")
    if isinstance(found, str):
        return found
    code, slash, _ = (context.name or "").partition("/")
    return code if slash and LOCALE_CODE.match(code) else DEFAULT_LOCALE


class _Environment(ImmutableSandboxedEnvironment):
    """Imports resolve in the importing template's language: ``{% import
    "en/_macros.html.j2" %}`` in a German template reads the German macros (English when
    there are none), so translated templates copy imports unchanged."""

    def join_path(self, template: str, parent: str) -> str:
        """``<parent's language>/<name>``."""
        code, slash, _ = parent.partition("/")
        if not slash or not LOCALE_CODE.match(code):
            return template
        return f"{code}/{template.rpartition('/')[2]}"


@pass_context
def _thousands(context: Context, number: Any) -> str:
    """12,000 / 12.000 (kept under its old name: templates use it)."""
    return values.format_num(number, _lang(context))


@pass_context
def _percent(context: Context, number: Any) -> str:
    """9 → 9% / 9 %."""
    return values.format_pct(number, _lang(context))


@pass_context
def _plural(context: Context, count: Any, *forms: str, **named: str) -> str:
    """``n|plural('day', 'days')`` (one, other) in any language by its CLDR plural rule;
    more forms in the language's category order (Polish: one, few, many, other), or named:
    ``n|plural(one='dzień', few='dni', many='dni', other='dnia')``."""
    return values.choose_plural(count, _lang(context), forms, named)


@pass_context
def _and_list(context: Context, items: Any) -> Markup:
    """A, B and C / A, B und C (items escaped unless already markup)."""
    return Markup(values.join_list([str(escape(i)) for i in items], _lang(context)))


@pass_context
def _or_list(context: Context, items: Any) -> Markup:
    """A or B / A oder B."""
    return Markup(values.join_list([str(escape(i)) for i in items], _lang(context), "or"))


@pass_context
def _long_date(context: Context, value: Any) -> str:
    """A date (or ISO text) written out: 15 January 2027 / 15. Januar 2027."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return values.format_datetime_date(value, _lang(context))


@pass_context
def _relative_days(context: Context, days: Any) -> str:
    """Days from now: in 3 days / in 3 Tagen; 2 days ago / vor 2 Tagen."""
    return values.relative_days(int(days), _lang(context))


class Renderer:
    """Renders message templates and guidance bodies; the only jinja2 Environment."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self.env = _Environment(
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
        self.env.filters["number"] = _thousands
        self.env.filters["percent"] = _percent
        self.env.filters["and_list"] = _and_list
        self.env.filters["or_list"] = _or_list
        self.env.filters["long_date"] = _long_date
        self.env.filters["relative_days"] = _relative_days
        self.env.globals["facts"] = content.facts
        self._compiled: dict[str, Template] = {}

    def template(self, code: str | None, name: str) -> Template:
        """A message template for a locale, falling back to English."""
        locale = self.content.locale(code).code
        return self.env.get_template(f"{locale}/{name}")

    def render(self, code: str | None, name: str, **context: Any) -> str:
        """Render a message template to Telegram HTML."""
        text = self.template(code, name).render(
            s=self.strings(code), **self.locale_context(code), **context
        )
        return tidy(text)

    def locale_context(self, code: str | None) -> dict[str, Any]:
        """What every render in a language reads: its facts and its code (for filters)."""
        locale = self.content.locale(code).code
        return {"facts": self.content.facts_in(locale), "_lang": locale}

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
        self,
        source: str,
        origin: str,
        filename: str | None = None,
        *,
        lang: str | None = None,
        **context: Any,
    ) -> str:
        """Render a template held in content (guidance bodies, strings with variables)
        in a language (its facts, dates, numbers and plurals)."""
        template = self.from_source(source, origin, filename)
        return tidy(template.render(**self.locale_context(lang), **context))

    def strings(self, code: str | None) -> _Strings:
        """Strings for templates: ``s.buttons.back`` with English fallback per key."""
        return _Strings(self.content, code, ())

    def text(self, code: str | None, key: str, **context: Any) -> str:
        """One string by key, rendered as a template (HTML). A string is HTML whether or
        not it holds template code (``content check`` has it parse as Telegram's HTML)."""
        source = str(self.content.string(code, key))
        if "{" not in source:
            return source  # what rendering it as a template would give
        return self.render_source(
            source, f"{STRING_ORIGIN}{self.content.locale(code).code}:{key}", lang=code, **context
        )

    def plain(self, code: str | None, key: str, **context: Any) -> str:
        """One string by key as plain text (for button labels and callback answers)."""
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
