"""Typed fact values and locale-aware formatting (Babel): no month name, number format or
plural rule lives in Python.

``facts.yaml`` values are written language-neutrally and parsed here into typed values,
which render in the language of the message that reads them (``{{ facts.x }}``):

- ``2025-03-31`` a day, ``2025-02`` a month, ``2021`` a year,
  ``2023-08-23/2023-08-24`` a range of days;
- ``9%`` a percentage, ``$0.30`` / ``£0.50`` / ``€3`` / ``¥150,000`` money;
- ``12,000`` or ``2.5`` a number, ``1–255`` a range of numbers;
- a number with a unit: ``14 days``, ``24 hours``, ``12 months``, ``30 kg``, ``5 MB``,
  ``600–20,000 px``, ``3 business days``, ``1 working day``, ``3 times``,
  ``50 orders a day``, ``100 products``, ``100 uploads a day``;
- qualifiers ``about X``, ``more than X``, ``mid X``; ``A + B`` (a sum of typed parts),
  ``A & B`` (an and-list), ``A | B`` (an or-list), ``A ; B`` (a unit list: "A, B");
- a YAML list of market ids (``[us, uk]``): the markets' names, as a list;
- anything else is *text*, shown as written in every language. Text with words in it
  (not a name, domain or code) must say it per language: ``{value: {en: ..., de: ...}}``;
  ``content check`` warns where it would show English in another language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any, Literal

from babel import Locale as BabelLocale
from babel import UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.dates import format_skeleton, format_timedelta
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, format_percent
from babel.units import format_unit

#: Babel locale per content language when it differs from the code (the bot's English is
#: British: "31 March 2025", "A, B and C"; money keeps "$", not "US$").
_BABEL = {"en": "en_GB"}
_MONEY = {"en": "en"}
CURRENCIES = {"$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY"}
#: Units Babel (CLDR) knows, by how facts.yaml writes them.
CLDR_UNITS: dict[str, tuple[str, UnitLength]] = {
    "day": ("duration-day", "long"),
    "days": ("duration-day", "long"),
    "hour": ("duration-hour", "long"),
    "hours": ("duration-hour", "long"),
    "month": ("duration-month", "long"),
    "months": ("duration-month", "long"),
    "kg": ("mass-kilogram", "short"),
    "MB": ("digital-megabyte", "short"),
    "px": ("graphics-pixel", "short"),
}
#: Units CLDR does not have: their words come from strings (``fact_units.<id>``).
WORD_UNITS = {
    "business day": "business_day",
    "business days": "business_day",
    "working day": "working_day",
    "working days": "working_day",
    "time": "time",
    "times": "time",
    "order a day": "order_per_day",
    "orders a day": "order_per_day",
    "product": "product",
    "products": "product",
    "upload a day": "upload_per_day",
    "uploads a day": "upload_per_day",
}
QUALIFIERS = {"about": "about", "more than": "more_than", "mid": "mid", "at most": "at_most"}
ListStyle = Literal["standard", "or", "unit"]
UnitLength = Literal["short", "long", "narrow"]
PLURAL_ORDER = ("zero", "one", "two", "few", "many", "other")

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_YEARLY_DAY = re.compile(r"^--(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(19|20)\d{2}$")
_PERCENT = re.compile(rf"^({_NUMBER})%$")
_MONEY_RE = re.compile(rf"^([$£€¥])({_NUMBER})$")
_NUM = re.compile(rf"^({_NUMBER})$")
_RANGE = re.compile(rf"^({_NUMBER})–({_NUMBER})(?: (.+))?$")
_UNIT = re.compile(rf"^({_NUMBER}) (.+)$")
# Text that is a name, a domain or a code reads the same in every language.
_WORDS = re.compile(r"[A-Za-z]{2,}[ ,][^/]*[A-Za-z]{2,}")


def babel_locale(code: str | None) -> BabelLocale:
    """The Babel locale for a content language (English when Babel does not know it)."""
    return _babel(code or "en")


@cache
def _babel(code: str) -> BabelLocale:
    try:
        return BabelLocale.parse(_BABEL.get(code, code), sep="-")
    except (ValueError, UnknownLocaleError):
        return BabelLocale.parse("en_GB")


def language_locale(code: str) -> BabelLocale:
    """The Babel locale of a language code as such (``en`` is English, not en-GB: for
    language names)."""
    try:
        return BabelLocale.parse(code, sep="-")
    except (ValueError, UnknownLocaleError):
        return BabelLocale.parse("en")


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


# --- formatting (used by templates, views and facts) ----------------------------------------


@lru_cache(maxsize=4096)
def format_day(day: date, code: str | None) -> str:
    """31 March 2025 / 31. März 2025 (remembered: a pure function of the day and the
    language, asked for on every plan and step screen)."""
    return _babel_date(day, "long", locale=babel_locale(code))


def format_month(year: int, month: int, code: str | None) -> str:
    """February 2025 / Februar 2025."""
    return format_skeleton("yMMMM", date(year, month, 1), locale=babel_locale(code))


def format_day_range(start: date, end: date, code: str | None) -> str:
    """23–24 August 2023; 25 February – 31 March 2026."""
    loc = babel_locale(code)
    if start.year != end.year:
        return f"{format_day(start, code)} – {format_day(end, code)}"
    if start.month == end.month:
        first = format_skeleton("d", start, locale=loc)
        if "d." in loc.date_formats["long"].pattern and not first.endswith("."):
            first += "."  # German writes 23.–24. August 2023
        return f"{first}–{format_day(end, code)}"
    return f"{format_skeleton('MMMMd', start, locale=loc)} – {format_day(end, code)}"


def format_num(value: int | float | Decimal, code: str | None) -> str:
    """12,000 / 12.000; 2.5 / 2,5."""
    return format_decimal(value, locale=babel_locale(code))


def format_pct(value: int | float | Decimal, code: str | None) -> str:
    """A percentage given in percent: 9 → 9% / 9 %."""
    return format_percent(Decimal(str(value)) / 100, locale=babel_locale(code))


def format_money(amount: Decimal, currency: str, code: str | None) -> str:
    """$1,500 / 1.500 $; £0.50 / 0,50 £ (no decimals for whole amounts)."""
    loc = BabelLocale.parse(_MONEY[code]) if code in _MONEY else babel_locale(code)
    pattern = loc.currency_formats["standard"].pattern
    if amount == amount.to_integral_value():
        pattern = pattern.replace(".00", "")
    return format_currency(amount, currency, pattern, locale=loc, currency_digits=False)


def plural_category(count: Any, code: str | None) -> str:
    """CLDR plural category (one, few, many, other, ...) of a number in a language."""
    try:
        number = Decimal(str(count).replace(",", ""))
    except InvalidOperation:
        return "other"
    return str(babel_locale(code).plural_form(number))


def plural_categories(code: str | None) -> tuple[str, ...]:
    """The plural categories a language uses, in CLDR order (English: one, other)."""
    tags = set(babel_locale(code).plural_form.tags) | {"other"}
    return tuple(t for t in PLURAL_ORDER if t in tags)


def choose_plural(
    count: Any, code: str | None, forms: Sequence[str], named: Mapping[str, str]
) -> str:
    """The form for ``count``: ``forms`` in the language's category order (two forms are
    always one/other, as in ``n|plural('Tag', 'Tage')``), or named (``one=``, ``few=``...)."""
    category = plural_category(count, code)
    if category in named:
        return named[category]
    if len(forms) == 2 and not named:
        return forms[0] if category == "one" else forms[1]
    cats = plural_categories(code)
    mapping = dict(zip(cats, forms, strict=False))
    if category in mapping:
        return mapping[category]
    if "other" in named:
        return named["other"]
    return forms[-1] if forms else ""


def join_list(items: Sequence[str], code: str | None, style: ListStyle = "standard") -> str:
    """A, B and C / A, B und C (``style`` or: A or B; unit: A, B)."""
    if not items:
        return ""
    try:
        return format_list(list(items), style=style, locale=babel_locale(code))
    except KeyError:  # CLDR data without this style for the language (Babel: de "unit")
        return format_list(list(items), locale=babel_locale(code))


def relative_days(days: int, code: str | None) -> str:
    """in 3 days / in 3 Tagen; 2 days ago / vor 2 Tagen."""
    return format_timedelta(
        timedelta(days=days),
        add_direction=True,
        threshold=1000,
        granularity="day",
        locale=babel_locale(code),
    )


def format_datetime_date(value: date | datetime, code: str | None) -> str:
    """A date (or a datetime's date) written out."""
    return format_day(value.date() if isinstance(value, datetime) else value, code)


# --- typed fact values -----------------------------------------------------------------------

#: ``words(key)`` gives a string of the render's language (``fact_units.day.one``...).
Words = Callable[[str], str | None]


@dataclass(frozen=True)
class FactValue:
    """A fact as written; ``render`` gives it in a language."""

    raw: str

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """The value in a language."""
        return self.raw

    @property
    def english_only(self) -> bool:
        """Text in English words that would show untranslated in another language."""
        return False


@dataclass(frozen=True)
class Text(FactValue):
    """Text shown as written (a name, domain, code), or per language."""

    per_locale: tuple[tuple[str, str], ...] = ()

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """The text in a language, else English, else as written."""
        forms = dict(self.per_locale)
        if forms:
            return forms.get(code or "en") or forms.get("en") or next(iter(forms.values()))
        return self.raw

    @property
    def english_only(self) -> bool:
        """Words with no per-language text."""
        return not self.per_locale and bool(_WORDS.search(self.raw))

    def missing(self, code: str) -> bool:
        """Per-language text that lacks ``code``."""
        return bool(self.per_locale) and code not in dict(self.per_locale)


@dataclass(frozen=True)
class Day(FactValue):
    """A calendar day."""

    day: date

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """31 March 2025."""
        return format_day(self.day, code)


@dataclass(frozen=True)
class YearlyDay(FactValue):
    """A day that comes back every year (``--01-31``, ISO 8601's day without a year)."""

    day: date  # in the leap year 2000, so that --02-29 is a day too

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """31 January / 31. Januar."""
        return format_skeleton("MMMMd", self.day, locale=babel_locale(code))


@dataclass(frozen=True)
class DayRange(FactValue):
    """From one day to another."""

    start: date
    end: date

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """23–24 August 2023."""
        return format_day_range(self.start, self.end, code)


@dataclass(frozen=True)
class Month(FactValue):
    """A month of a year."""

    year: int
    month: int

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """February 2025."""
        return format_month(self.year, self.month, code)


@dataclass(frozen=True)
class Year(FactValue):
    """A year (never grouped like a number)."""

    year: int

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """2021."""
        return str(self.year)


@dataclass(frozen=True)
class Number(FactValue):
    """A count or a decimal."""

    number: Decimal

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """12,000."""
        return format_num(self.number, code)


@dataclass(frozen=True)
class Percent(FactValue):
    """A percentage (``number`` in percent)."""

    number: Decimal

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """9%."""
        return format_pct(self.number, code)


@dataclass(frozen=True)
class Money(FactValue):
    """An amount of a currency."""

    amount: Decimal
    currency: str

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """$1,500."""
        return format_money(self.amount, self.currency, code)


@dataclass(frozen=True)
class Quantity(FactValue):
    """A number (or range of numbers) with a unit."""

    low: Decimal | None
    number: Decimal
    unit: str

    def render(self, code: str | None, words: Words) -> str:
        """14 days, 1–2 business days, 600–20,000 px."""
        prefix = f"{format_num(self.low, code)}–" if self.low is not None else ""
        if not self.unit:
            return prefix + format_num(self.number, code)
        if self.unit in CLDR_UNITS:
            unit, length = CLDR_UNITS[self.unit]
            return prefix + format_unit(
                self.number, unit, length=length, locale=babel_locale(code)
            )
        key = WORD_UNITS[self.unit]
        category = plural_category(self.number, code)
        form = words(f"fact_units.{key}.{category}") or words(f"fact_units.{key}.other")
        if form is None:
            return f"{prefix}{format_num(self.number, code)} {self.unit}"
        return prefix + form.replace("{n}", format_num(self.number, code))


@dataclass(frozen=True)
class Qualified(FactValue):
    """about X, more than X, mid X."""

    qualifier: str
    inner: FactValue

    def render(self, code: str | None, words: Words) -> str:
        """about 30 days."""
        pattern = words(f"fact_words.{self.qualifier}") or "{value}"
        return pattern.replace("{value}", self.inner.render(code, words))


@dataclass(frozen=True)
class Joined(FactValue):
    """Typed parts in a list (``style``: standard, or, unit) or a sum (``sum``)."""

    parts: tuple[FactValue, ...]
    style: Literal["standard", "or", "unit", "sum"]

    def render(self, code: str | None, words: Words) -> str:
        """2% + $0.30; A, B and C."""
        shown = [part.render(code, words) for part in self.parts]
        if self.style == "sum":
            return " + ".join(shown)
        return join_list(shown, code, self.style)

    @property
    def english_only(self) -> bool:
        """When a part is."""
        return any(part.english_only for part in self.parts)


@dataclass(frozen=True)
class MarketName(FactValue):
    """A market id (interview.yaml), shown by its name (strings ``fact_markets.<id>``)."""

    market: str

    def render(self, code: str | None, words: Words) -> str:  # noqa: ARG002
        """UK."""
        return (
            words(f"fact_markets.{self.market}")
            or words(f"questions.market.options.{self.market}")
            or self.market
        )


def parse_value(value: Any, markets: frozenset[str] = frozenset()) -> FactValue:
    """A facts.yaml value as a typed value (Text when it is none of the typed forms)."""
    if isinstance(value, Mapping):
        forms = tuple((str(k), str(v)) for k, v in value.items())
        return Text(dict(forms).get("en", forms[0][1] if forms else ""), forms)
    if isinstance(value, list):
        parts = tuple(
            MarketName(str(v), str(v))
            if re.fullmatch(r"[a-z]{2,9}", str(v)) or str(v) in markets
            else parse_value(v, markets)
            for v in value
        )
        return Joined(", ".join(str(v) for v in value), parts, "standard")
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return Day(value.isoformat(), value)
    return _parse_text(str(value).strip())


def _parse_text(text: str) -> FactValue:
    styles: tuple[tuple[str, Literal["standard", "or", "unit", "sum"]], ...] = (
        (" + ", "sum"),
        (" & ", "standard"),
        (" | ", "or"),
        (" ; ", "unit"),
    )
    for separator, style in styles:
        if separator in text:
            return Joined(text, tuple(_parse_text(p) for p in text.split(separator)), style)
    for words, qualifier in QUALIFIERS.items():
        if text.startswith(words + " "):
            inner = _parse_text(text[len(words) + 1 :])
            if not isinstance(inner, Text):
                return Qualified(text, qualifier, inner)
    if "/" in text:
        start, _, end = text.partition("/")
        first, last = _parse_text(start), _parse_text(end)
        if isinstance(first, Day) and isinstance(last, Day) and first.day < last.day:
            return DayRange(text, first.day, last.day)
    if found := _DAY.match(text):
        try:
            return Day(text, date(*(int(g) for g in found.groups())))
        except ValueError:
            return Text(text)
    if found := _YEARLY_DAY.match(text):
        try:
            return YearlyDay(text, date(2000, int(found.group(1)), int(found.group(2))))
        except ValueError:
            return Text(text)
    if (found := _MONTH.match(text)) and 1 <= int(found.group(2)) <= 12:
        return Month(text, int(found.group(1)), int(found.group(2)))
    if _YEAR.match(text):
        return Year(text, int(text))
    if found := _PERCENT.match(text):
        return Percent(text, _number(found.group(1)))
    if found := _MONEY_RE.match(text):
        return Money(text, _number(found.group(2)), CURRENCIES[found.group(1)])
    if _NUM.match(text):
        return Number(text, _number(text))
    if found := _RANGE.match(text):
        unit = found.group(3) or ""
        if not unit or unit in CLDR_UNITS or unit in WORD_UNITS:
            return Quantity(text, _number(found.group(1)), _number(found.group(2)), unit)
    if (found := _UNIT.match(text)) and (
        found.group(2) in CLDR_UNITS or found.group(2) in WORD_UNITS
    ):
        return Quantity(text, None, _number(found.group(1)), found.group(2))
    return Text(text)


def render_tree(tree: Mapping[str, Any], code: str | None, words: Words) -> dict[str, Any]:
    """A nested mapping of typed values rendered in a language (what templates read)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, FactValue):
            out[key] = value.render(code, words)
        elif isinstance(value, Mapping):
            out[key] = render_tree(value, code, words)
        else:
            out[key] = value
    return out
