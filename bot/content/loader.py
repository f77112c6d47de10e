"""Load and validate the content tree once; a broken file is named with its line."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.alerts.planner import parse_offsets
from bot.content.values import FactValue, Text, parse_value, render_tree
from bot.domain.interview import (
    END,
    VARIATION_SELECTOR,
    Answer,
    DateWords,
    Interview,
    Question,
    Route,
    TypedWords,
    matches,
    normalise,
)
from bot.domain.plan import Flag, Source, Step, find_cycle

DEFAULT_LOCALE = "en"
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"  # short: step ids travel in callback data
DETAILS_MARKER = "<!-- details -->"
#: Commands a merchant may name by typing once the plan is built (``typed_actions.commands``),
#: each with the labels of the buttons that do the same.
TYPED_COMMANDS: dict[str, tuple[str, ...]] = {
    "plan": ("buttons.show_plan",),
    "profile": ("buttons.profile",),
    "alerts": ("buttons.alerts",),
    "alerts_off": ("alerts.buttons.stop", "alerts.buttons.turn_off"),
    "alerts_on": ("alerts.buttons.turn_on", "alerts.buttons.resume"),
    "snooze": ("alerts.buttons.snooze",),
    "help": (),
    "language": (),
}
#: A locale folder's name: its language code (``de``, ``pt-BR``).
LOCALE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n?(.*)\Z", re.DOTALL)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the content, where an editor can find it."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ContentError(Exception):
    """The content tree is broken; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --- YAML with line numbers ----------------------------------------------------------------


# libyaml's parser when PyYAML has it (the wheels do): the pure-Python one spent about a second
# of every start-up parsing the content tree (py-spy, issue 20). Same constructors, same marks.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MERGE_TAG = "tag:yaml.org,2002:merge"


#: Where the parser's context names the thing left open (a bracket, a brace, a quote), the
#: editor's mistake is at its start, not at the line (often the end of the file) where the
#: parser gave up. "while parsing a block mapping" only names the enclosing block: not used.
_OPENED_CONTEXTS = ("flow sequence", "flow mapping", "quoted scalar")


def _yaml_problem(exc: yaml.YAMLError, path: Path, line_offset: int, text: str) -> Problem:
    """One problem for a YAML error, at the line an editor should look at."""
    mark = getattr(exc, "problem_mark", None)
    line = (mark.line + 1 if mark else 1) + line_offset
    message = f"YAML error: {getattr(exc, 'problem', None) or exc}"
    if mark is not None and text[mark.index : mark.index + 1] == "\t":
        message += " (a tab: YAML indents with spaces only)"
    context = getattr(exc, "context", None) or ""
    opened = getattr(exc, "context_mark", None)
    if opened is not None and any(kind in context for kind in _OPENED_CONTEXTS):
        start = opened.line + 1 + line_offset
        if start != line:
            what = context.removeprefix("while parsing ").removeprefix("while scanning ")
            return Problem(
                path,
                start,
                f"{message}: the {what} opened here is not closed (noticed at line {line})",
            )
    return Problem(path, line, message)


def read_source(path: Path, problems: list[Problem]) -> str | None:
    """A content file's text (UTF-8; a byte-order mark is dropped); None, with the line of
    the first byte that is not UTF-8 as one problem, when it is not UTF-8."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        problems.append(
            Problem(path, line, f"not UTF-8 (byte 0x{byte:02x}): save the file as UTF-8")
        )
        return None


def _load_yaml(
    text: str, path: Path, problems: list[Problem], line_offset: int = 0
) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML; return the data and the line (1-based) of every mapping key / list item.

    A key given twice in one mapping is a problem (YAML keeps the last silently), and so is
    an alias inside the anchor it repeats (a loop no value can hold)."""
    loader = _YAML_LOADER(text)
    try:  # parsed once: the nodes give the lines, the same nodes give the data
        node = loader.get_single_node()
        lines = _node_lines(node, text, path, problems, line_offset)
        if lines is None:
            return None, {}
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        problems.append(_yaml_problem(exc, path, line_offset, text))
        return None, {}
    finally:
        loader.dispose()
    return data, lines


_ANCHOR = re.compile(r"&([^\s,\[\]{}]+)")


def _node_lines(
    node: yaml.Node | None, text: str, path: Path, problems: list[Problem], line_offset: int
) -> dict[tuple[Any, ...], int] | None:
    """The line of every mapping key and list item below ``node``; None when a key is given
    twice or an alias loops (each one problem)."""
    lines: dict[tuple[Any, ...], int] = {}
    inside: set[int] = set()  # the nodes being walked: one met again is a loop
    walked: set[int] = set()  # an alias repeats a node: its lines are the anchor's
    before = len(problems)

    def line(mark: yaml.Mark) -> int:
        return mark.line + 1 + line_offset

    def loop(n: yaml.Node, at: yaml.Mark) -> None:
        # Nodes keep no anchor name: the anchored node's text starts with it.
        anchor = _ANCHOR.match(text, n.start_mark.index)
        name = anchor.group(1) if anchor else "?"
        problems.append(
            Problem(
                path,
                line(at),
                f"YAML error: the alias *{name} is inside the anchor &{name} it repeats"
                " (a loop): write the values out",
            )
        )

    def walk(n: yaml.Node, loc: tuple[Any, ...]) -> None:
        lines.setdefault(loc, line(n.start_mark))
        if id(n) in walked:
            return
        walked.add(id(n))
        inside.add(id(n))
        if isinstance(n, yaml.MappingNode):
            first: dict[tuple[str, Any], int] = {}
            for key_node, value_node in n.value:
                key = (key_node.value,)
                here = line(key_node.start_mark)
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != MERGE_TAG:
                    seen = first.get((key_node.tag, key_node.value))
                    first.setdefault((key_node.tag, key_node.value), here)
                    if seen is not None:
                        problems.append(
                            Problem(
                                path,
                                here,
                                f"`{key_node.value}` is given twice (first on line {seen}):"
                                " keep one, or the last one would silently win",
                            )
                        )
                lines[loc + key] = here
                if id(value_node) in inside:
                    loop(value_node, value_node.start_mark)
                else:
                    walk(value_node, loc + key)
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                if id(item) in inside:
                    loop(item, n.start_mark)
                else:
                    walk(item, (*loc, index))
        inside.discard(id(n))

    if node is not None:
        walk(node, ())
    return None if len(problems) > before else lines


def _line_for(lines: Mapping[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get((), 1)


def _validate(
    model: type[BaseModel],
    data: Any,
    path: Path,
    lines: Mapping[tuple[Any, ...], int],
    problems: list[Problem],
    place: str | None = None,
) -> Any:
    """Validate against a schema; each error as an editor would say it, at its line."""
    if not isinstance(data, Mapping):
        problems.append(
            Problem(path, 1, f"{place or path.name} must be a mapping of `field: value` lines")
        )
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = _editor_message(model, error, place or path.name)
            problems.append(Problem(path, _line_for(lines, loc), message))
        return None


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema that holds the last part of ``loc`` (for listing its known fields)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field_info = current.model_fields.get(str(part))
        if field_info is None:
            return None
        current = _inner_model(field_info.annotation)
    return current


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _describe_loc(loc: tuple[Any, ...], place: str) -> tuple[str, str]:
    """(the field's name, where it is) for a validation error's location."""
    if not loc:
        return "", place
    *parents, last = loc
    where = place
    for index, part in enumerate(parents):
        if isinstance(part, int):
            owner = parents[index - 1] if index else "list"
            where = f"{owner} item {part + 1} in {place}"
    return str(last) if not isinstance(last, int) else f"item {last + 1}", where


def _editor_message(model: type[BaseModel], error: Any, place: str) -> str:
    """A pydantic error in editor language: which field, where, and what to write."""
    loc = tuple(error["loc"])
    kind = str(error["type"])
    ctx = error.get("ctx") or {}
    given = error.get("input")
    name, where = _describe_loc(loc, place)
    field = ".".join(str(p) for p in loc if not isinstance(p, int)) or place
    if kind == "extra_forbidden":
        owner = _model_at(model, loc)
        known = list(owner.model_fields) if owner is not None else []
        hint = _did_you_mean(name, known)
        if not hint and known:
            hint = f" (fields: {', '.join(known)})"
        return f"unknown field `{name}` in {where}{hint}"
    if kind == "missing":
        return f"missing field `{name}` in {where}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{field}: must be a whole number, not {given!r}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{field}: must be true or false, not {given!r}"
    if kind.startswith(("date", "datetime")):
        return f"{field}: must be a date like 2026-12-01, not {given!r}"
    if kind == "literal_error":
        return f"{field}: must be one of {ctx.get('expected', '')}, not {given!r}"
    if kind in ("too_short", "too_long") and isinstance(given, list):
        if kind == "too_short" and name == "sources":
            return "sources: a step must cite at least one source (url, title, date)"
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"{field}: needs {'at least' if kind == 'too_short' else 'at most'} {bound} item(s)"
    if kind == "string_too_long":
        length = len(given) if isinstance(given, str) else "?"
        return f"{field}: at most {ctx.get('max_length')} characters (this one has {length})"
    if kind == "string_too_short":
        return f"{field}: at least {ctx.get('min_length')} characters"
    if kind == "string_pattern_mismatch":
        return f"{field}: {given!r} does not have the expected form ({ctx.get('pattern')})"
    if kind in ("string_type", "list_type", "dict_type"):
        wanted = {"string_type": "text", "list_type": "a list", "dict_type": "a mapping"}[kind]
        return f"{field}: must be {wanted}, not {given!r}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = next(iter(ctx.values()), "")
        words = {
            "greater_than_equal": "at least",
            "less_than_equal": "at most",
            "greater_than": "more than",
            "less_than": "less than",
        }[kind]
        return f"{field}: must be {words} {bound}, not {given!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{field}: {message}"


# --- schemas -------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
    return value


class CampaignModel(_Strict):
    """content/campaign.yaml."""

    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(ge=1)
    deadline: datetime
    alert_offsets: list[str] = Field(min_length=1)
    # Bounded so that "now plus it" is always a date (a nudge after more than a year is none).
    nudge_after_days: int = Field(default=7, ge=1, le=365)

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("deadline needs a timezone, e.g. 2023-09-12T00:00:00+00:00")
        return value

    @field_validator("alert_offsets")
    @classmethod
    def _offsets(cls, value: list[str]) -> list[str]:
        parse_offsets(",".join(value))
        return value


class RouteModel(_Strict):
    """One branch of ``next``: ``when`` an answer is among the listed, ``only`` when
    something is picked and nothing outside the list (a several-choice question)."""

    goto: str
    when: dict[str, list[str]] = {}
    only: dict[str, list[str]] = {}

    @field_validator("when", "only", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _as_list(value)


class PlacesModel(_Strict):
    """A place typed at a one-choice question, read against an earlier question's answers."""

    question: str
    inside: str
    outside: str


class QuestionModel(_Strict):
    """One interview question."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,19}$")
    kind: Literal["one", "many", "text", "date"]
    options: list[str] = []
    optional: bool = False
    next: str | list[RouteModel] | None = None
    max_length: int = Field(default=200, ge=1, le=1000)
    pattern: str | None = None
    # About ten years either way: "today plus it" is always a date.
    min_days_ahead: int = Field(default=0, ge=-3660, le=3660)
    max_days_ahead: int = Field(default=5 * 366, ge=-3660, le=3660)
    numbers: dict[str, tuple[int, int | None]] = {}
    places: PlacesModel | None = None
    # What "all of them" typed at a several-choice question ticks.
    all: list[str] = []

    @field_validator("options")
    @classmethod
    def _option_ids(cls, value: list[str]) -> list[str]:
        for option in value:
            if not re.fullmatch(r"[a-z0-9_]{1,16}", option):
                raise ValueError(f"option id {option!r} must be 1-16 of a-z 0-9 _")
        if len(set(value)) != len(value):
            raise ValueError("option ids repeat")
        return value


class InterviewModel(_Strict):
    """content/interview.yaml."""

    version: int = Field(ge=1)
    start: str
    questions: list[QuestionModel] = Field(min_length=1)


class SourceModel(_Strict):
    """A source in a step's front matter."""

    url: str = Field(pattern=r"^https?://\S+$")
    title: str = Field(min_length=3)
    date: str

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        value = value.isoformat() if isinstance(value, date) else str(value)
        if value != "undated" and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
            raise ValueError("date must be YYYY, YYYY-MM, YYYY-MM-DD or 'undated'")
        return value


class FlagModel(_Strict):
    """An uncertainty flag in a step's front matter (``when``: shown only to merchants
    whose answers match, as a step's ``when``)."""

    kind: Literal["unverified", "disputed"]
    text: str = Field(min_length=10)
    when: dict[str, list[str]] = {}

    @field_validator("when", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _as_list(value)


#: A step title's length as merchants read it (facts rendered), in every language.
MAX_TITLE = 80
#: What a title may hold besides plain text: a fact, ``{{ facts.cross_border.eu_duty }}``.
_TITLE_FACT = re.compile(r"\{\{\s*facts\.([A-Za-z0-9_.]+)\s*\}\}")


class StepModel(_Strict):
    """A guidance step's front matter."""

    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(ge=1)
    #: Plain text; ``{{ facts.<name> }}`` only, checked (and measured) once rendered.
    title: str = Field(min_length=3, max_length=MAX_TITLE * 3)
    scope: Literal["general", "platform", "market"]
    when: dict[str, list[str]] = {}
    unless: dict[str, list[str]] = {}
    requires: list[str] = []
    minutes: int = Field(ge=1, le=60 * 24 * 30)
    sources: list[SourceModel] = Field(min_length=1)
    checked: date
    flags: list[FlagModel] = []
    order: int = 100
    kind: Literal["step", "blocker", "background"] = "step"
    tags: list[str] = []
    excludes: list[str] = []
    conflicts: list[str] = []
    only: dict[str, list[str]] = {}
    mentions: list[str] = []

    @field_validator("when", "unless", "only", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", tag):
                raise ValueError(f"tag {tag!r} must be a-z 0-9 - (at most 40)")
        return value


class TranslationModel(_Strict):
    """A translated step's front matter: only what a translator changes, and which English
    text it was translated from (``source``: :func:`source_hash`, written by
    ``content translations --stamp LANG``)."""

    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(ge=1)
    title: str = Field(min_length=3, max_length=MAX_TITLE * 3)
    source: str | None = Field(default=None, pattern=r"^[0-9a-f]{12}$")
    #: The English step's uncertainty flags translated, in the same order (kinds stay).
    flags: list[str] = []


# --- the loaded tree -----------------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    """The shutdown this bot is about, with its alert offsets."""

    id: str
    version: int
    deadline: datetime
    alert_offsets: tuple[timedelta, ...]
    nudge_after_days: int


FACT_SETTINGS = ("_checked", "_review", "_review_by", "_markets")
FACT_OVERRIDE = ("value", "checked", "review", "review_by")
_PERIOD = re.compile(r"^(\d{1,4})([dwmy])$")
_PERIOD_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}
# Markup in text that is shown as plain text (fact values, titles): merchants would see it.
_MARKUP = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(\s[^<>]*)?/?>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


@dataclass(frozen=True)
class Fact:
    """One value of ``facts.yaml`` with when it was last confirmed and when to look again."""

    path: str  # dotted, as templates read it: ``fees.uk.commission``
    value: str
    checked: date
    review_by: date
    line: int
    typed: FactValue | None = None

    def overdue(self, today: date) -> bool:
        """Past its review date: the value may have changed since it was confirmed."""
        return today > self.review_by


def parse_period(value: str) -> timedelta:
    """``90d``, ``12w``, ``6m`` (30 days) or ``1y`` (365 days); ValueError otherwise."""
    found = _PERIOD.match(value.strip())
    if not found or int(found.group(1)) == 0:
        raise ValueError(f"{value!r} is not a period like 90d, 12w, 6m or 1y")
    return timedelta(days=int(found.group(1)) * _PERIOD_DAYS[found.group(2)])


def markup_in(text: str) -> str | None:
    """The first HTML tag or entity in text that is shown as plain text, if any."""
    found = _MARKUP.search(text)
    return found.group(0) if found else None


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def latest_check_day() -> date:
    """The latest day a source can have been checked: today (UTC), plus one day for
    editors whose day starts before UTC's."""
    return datetime.now(UTC).date() + timedelta(days=1)


def read_facts(
    data: Mapping[str, Any],
    lines: Mapping[tuple[Any, ...], int],
    path: Path,
    problems: list[Problem],
) -> tuple[dict[str, Any], dict[str, Fact], dict[str, tuple[str, ...]]]:
    """Split ``facts.yaml`` into the values templates read and each value's dates.

    A group's ``_checked`` (date), ``_review`` (period) or ``_review_by`` (date) apply to
    every fact below it unless a nearer group, or the fact itself (written as
    ``{value: ..., checked: ..., review: ...}``), says otherwise. ``_markets`` lists the
    market ids a ``markets.<group>`` covers when its name is not one market id.
    Returns (values, facts by dotted path, ``_markets`` by group path).
    """
    facts: dict[str, Fact] = {}
    covers: dict[str, tuple[str, ...]] = {}
    undated: set[str] = set()
    latest = latest_check_day()

    def setting(key: str, value: Any, loc: tuple[Any, ...], meta: dict[str, Any]) -> None:
        line = _line_for(lines, loc)
        name = key.lstrip("_")
        if name in ("checked", "review_by"):
            day = _as_date(value)
            if day is None:
                problems.append(Problem(path, line, f"`{key}` must be a date (YYYY-MM-DD)"))
                return
            if name == "checked" and day > latest:
                problems.append(
                    Problem(
                        path,
                        line,
                        f"`{key}` {day.isoformat()} is in the future:"
                        " set it to the day you last checked the sources",
                    )
                )  # kept all the same: the facts below it are not "undated" too
            meta[name] = day
            if name == "review_by":
                meta.pop("review", None)
        elif name == "review":
            try:
                meta["review"] = parse_period(str(value))
            except ValueError as exc:
                problems.append(Problem(path, line, f"`{key}`: {exc}"))
                meta["review"] = timedelta(0)  # reported here, not again for every fact below
                return
            meta.pop("review_by", None)
        elif name == "markets":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(Problem(path, line, f"`{key}` must be a list of market ids"))
                return
            covers[".".join(str(p) for p in loc[:-1])] = tuple(value)

    def leaf(
        value: Any,
        loc: tuple[Any, ...],
        meta: Mapping[str, Any],
        line_loc: tuple[Any, ...] | None = None,
    ) -> Any:
        where = ".".join(str(p) for p in loc)
        line = _line_for(lines, line_loc or loc)
        if isinstance(value, (bool, type(None))) or not isinstance(
            value, (str, int, float, date, list, Mapping)
        ):
            problems.append(Problem(path, line, f"{where}: a fact is text; put it in quotes"))
            return value
        if isinstance(value, Mapping) and not all(
            isinstance(v, str) and re.fullmatch(r"[a-z]{2,3}(-[A-Z]{2})?", str(k))
            for k, v in value.items()
        ):
            problems.append(
                Problem(
                    path,
                    line,
                    f"{where}: per-language text is a mapping of language codes to text,"
                    ' like {en: "no cap", de: "keine Obergrenze"}',
                )
            )
            return value
        typed = parse_value(value)
        text = typed.raw
        tag = markup_in(
            " ".join(t for _, t in typed.per_locale)
            if isinstance(typed, Text) and typed.per_locale
            else text
        )
        if tag is not None:
            problems.append(
                Problem(
                    path,
                    line,
                    f"{where}: HTML ({tag}) in a fact value is shown to merchants as it is;"
                    " put the markup in the guidance around {{ facts." + where + " }}",
                )
            )
        checked = meta.get("checked")
        group = where.rpartition(".")[0]
        if checked is None or ("review" not in meta and "review_by" not in meta):
            if group in undated:  # one problem per group, not one per fact
                return typed
            undated.add(group)
        if checked is None:
            problems.append(
                Problem(
                    path,
                    line,
                    f"{where}: no checked date: add `_checked: YYYY-MM-DD` to its group"
                    " (or write it as {value: ..., checked: YYYY-MM-DD})",
                )
            )
            return typed
        if "review_by" in meta:
            review_by = meta["review_by"]
        elif "review" in meta:
            review_by = checked + meta["review"]
        else:
            problems.append(
                Problem(
                    path,
                    line,
                    f"{where}: no review period: add `_review: 90d` (or `_review_by:"
                    " YYYY-MM-DD`) to its group or the top of the file",
                )
            )
            return typed
        facts[where] = Fact(where, text, checked, review_by, line, typed)
        return typed

    def walk(node: Mapping[str, Any], loc: tuple[Any, ...], inherited: Mapping[str, Any]) -> Any:
        meta = dict(inherited)
        values: dict[str, Any] = {}
        for key, value in node.items():
            key = str(key)
            if key.startswith("_"):
                if key not in FACT_SETTINGS:
                    known = ", ".join(f"`{k}`" for k in FACT_SETTINGS)
                    problems.append(
                        Problem(
                            path,
                            _line_for(lines, (*loc, key)),
                            f"unknown setting `{key}`{_did_you_mean(key, FACT_SETTINGS)}"
                            f" (settings: {known})",
                        )
                    )
                    continue
                setting(key, value, (*loc, key), meta)
        for key, value in node.items():
            key = str(key)
            if key.startswith("_"):
                continue
            here = (*loc, key)
            if isinstance(value, Mapping) and "value" in value and not key.startswith("_"):
                own = dict(meta)
                for name, item in value.items():
                    if name == "value":
                        continue
                    if name not in FACT_OVERRIDE:
                        problems.append(
                            Problem(
                                path,
                                _line_for(lines, (*here, name)),
                                f"unknown field `{name}` of a fact"
                                f"{_did_you_mean(str(name), FACT_OVERRIDE)}",
                            )
                        )
                        continue
                    setting(str(name), item, (*here, name), own)
                values[key] = leaf(value["value"], here, own, (*here, "value"))
            elif isinstance(value, Mapping):
                values[key] = walk(value, here, meta)
            else:
                values[key] = leaf(value, here, meta)
        return values

    values = walk(data, (), {})
    return values, facts, covers


def _did_you_mean(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f": did you mean `{close[0]}`?" if close else ""


def source_hash(text: StepText, flags: Iterable[str] = ()) -> str:
    """The English text a translation is made from (title, body, details and the texts of
    the step's uncertainty ``flags``), hashed short. A step without flags hashes as before
    flags were included."""
    digest = hashlib.sha256("\0".join((text.title, text.body, text.details, *flags)).encode())
    return digest.hexdigest()[:12]


def value_hash(value: Any) -> str:
    """An English strings value (text, or a list of words) or template text, hashed short:
    what ``translated_from.yaml`` records for a translated key or template."""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(value.encode()).hexdigest()[:12]


#: A translated locale's record of the English text its strings keys and templates were made
#: from (written by ``content translations --stamp``; translation platforms never see it).
TRANSLATED_FROM = "translated_from.yaml"
_HASH = re.compile(r"[0-9a-f]{12}")


def normalise_language(code: str | None, shipped: Iterable[str]) -> str:
    """The shipped locale for a Telegram ``language_code``: ``de-AT`` -> ``de``,
    ``pt-br`` -> ``pt-BR`` (when shipped, else ``pt``), anything unknown -> English."""
    if not code:
        return DEFAULT_LOCALE
    known = set(shipped)
    parts = code.strip().replace("_", "-").split("-")
    language = parts[0].lower()
    candidates = []
    if len(parts) > 1 and len(parts[1]) == 2:
        candidates.append(f"{language}-{parts[1].upper()}")
    candidates.append(language)
    return next((c for c in candidates if c in known), DEFAULT_LOCALE)


@dataclass(frozen=True)
class StepText:
    """A step's words in one locale: title, main body and details (jinja2 sources)."""

    title: str
    body: str
    details: str
    path: Path
    body_line: int  # file line of the body's first line (for error messages)
    details_line: int


@dataclass(frozen=True)
class Locale:
    """Everything a merchant reads in one language."""

    code: str
    strings: Mapping[str, Any]
    steps: Mapping[str, StepText]
    template_dir: Path
    #: Translated steps: the English ``version`` and ``source`` hash they were made from.
    sources: Mapping[str, tuple[int, str | None]] = field(default_factory=dict)
    #: Translated steps' flag texts (English order).
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: ``translated_from.yaml``: the :func:`value_hash` of the English value each dotted
    #: strings key, and of the English file each template (path under templates/), was
    #: translated from.
    key_sources: Mapping[str, str] = field(default_factory=dict)
    template_sources: Mapping[str, str] = field(default_factory=dict)
    #: Where each dotted strings key is written: file and line (for warnings).
    key_lines: Mapping[str, tuple[Path, int]] = field(default_factory=dict)
    #: Every dotted key of ``strings`` (texts and the mappings on the way) to its value,
    #: built with the locale: a screen looks up a dozen or more keys, and walking the
    #: mappings part by part (an ABC ``isinstance`` per level) was about a sixth of the
    #: CPU of building the screens (benchmarks/README.md, issue 20, seventh session).
    #: ``strings`` is content, never changed once loaded (a reload makes new locales).
    _by_key: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key: dict[str, Any] = {}
        _index_keys(self.strings, "", by_key)
        object.__setattr__(self, "_by_key", by_key)  # frozen: set once, here

    def lookup(self, key: str) -> Any:
        """A string (or mapping) by dotted key, KeyError when missing."""
        return self._by_key[key]


def _index_keys(node: Mapping[Any, Any], prefix: str, into: dict[str, Any]) -> None:
    """Every key reachable by splitting a dotted key on ".": text keys without a dot."""
    for key, value in node.items():
        if not isinstance(key, str) or "." in key:
            continue  # no dotted key reaches it (lookup splits on every ".")
        here = prefix + key
        into[here] = value
        if isinstance(value, Mapping):
            _index_keys(value, here + ".", into)


@dataclass(frozen=True)
class Content:
    """The validated content tree, read-only, shared by every update."""

    root: Path
    campaign: Campaign
    facts: Mapping[str, Any]
    interview: Interview
    steps: tuple[Step, ...]
    locales: Mapping[str, Locale]
    step_index: Mapping[str, Step] = field(default_factory=dict)
    #: Every fact of ``facts.yaml`` by dotted path, with its checked and review dates.
    fact_info: Mapping[str, Fact] = field(default_factory=dict)
    #: Market option ids where TikTok Shop exists: those ``facts.yaml`` has ``markets.<id>``
    #: for (or a ``markets`` group lists in ``_markets``).
    shop_markets: frozenset[str] = frozenset()
    #: The content's identity: a hash of every file of the tree (see :func:`tree_hash`).
    hash: str = ""
    #: facts.yaml as typed values (:mod:`bot.content.values`); ``facts`` is them in English.
    fact_values: Mapping[str, Any] = field(default_factory=dict)
    _facts_by_locale: dict[str, Mapping[str, Any]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # (locale, step id) -> the step's text with its title's facts written in that language.
    _titled: dict[tuple[str, str], StepText] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # (locale, question id) -> option id -> names a merchant may type (option_labels).
    _labels: dict[tuple[str, str], Mapping[str, tuple[str, ...]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # Telegram language code -> locale, remembered: asked on every screen of every update.
    _locale_by_code: dict[str | None, Locale] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def words(self, code: str | None) -> Callable[[str], str | None]:
        """A string of a language by key (English fallback), None when there is none."""

        def word(key: str) -> str | None:
            try:
                value = self.string(code, key)
            except KeyError:
                return None
            return value if isinstance(value, str) else None

        return word

    def facts_in(self, code: str | None) -> Mapping[str, Any]:
        """facts.yaml as templates read it in a language (dates, numbers, money by Babel)."""
        locale = self.locale(code).code
        found = self._facts_by_locale.get(locale)
        if found is None:
            found = render_tree(self.fact_values, locale, self.words(locale))
            self._facts_by_locale[locale] = found
        return found

    def locale(self, code: str | None) -> Locale:
        """The locale for a Telegram language code: region, then language, then English."""
        found = self._locale_by_code.get(code)
        if found is None:
            found = self.locales[normalise_language(code, self.locales)]
            if len(self._locale_by_code) > 512:  # codes are few; never let odd ones pile up
                self._locale_by_code.clear()
            self._locale_by_code[code] = found
        return found

    @property
    def shipped(self) -> tuple[str, ...]:
        """The languages merchants can choose: English first, then the others by code."""
        return (DEFAULT_LOCALE, *sorted(c for c in self.locales if c != DEFAULT_LOCALE))

    def string(self, code: str | None, key: str) -> Any:
        """A string in the merchant's language, falling back to English per key."""
        try:
            return self.locale(code).lookup(key)
        except KeyError:
            return self.locales[DEFAULT_LOCALE].lookup(key)

    def step_text(self, code: str | None, step_id: str) -> StepText:
        """A step's words in the merchant's language (English when not translated, or when
        the translation is of an older ``version``: see :meth:`outdated`), its title's
        ``{{ facts.<name> }}`` written in that language."""
        locale = self.locale(code)
        key = (locale.code, step_id)
        found = self._titled.get(key)
        if found is None:
            if step_id in locale.steps and not self.outdated(locale.code, step_id):
                found = locale.steps[step_id]
            else:
                found = self.locales[DEFAULT_LOCALE].steps[step_id]
            if "{" in found.title:
                found = replace(found, title=self.title_in(locale.code, found.title))
            self._titled[key] = found
        return found

    def title_in(self, code: str, title: str) -> str:
        """A title with its facts written in a language (KeyError: an unknown fact)."""

        def fact(found: re.Match[str]) -> str:
            node: Any = self.facts_in(code)
            for part in found.group(1).split("."):
                if not isinstance(node, Mapping) or part not in node:
                    raise KeyError(found.group(1))
                node = node[part]
            if isinstance(node, Mapping):
                raise KeyError(found.group(1))
            return str(node)

        return _TITLE_FACT.sub(fact, title)

    def step_flags(
        self, code: str | None, step: Step, answers: Mapping[str, Answer]
    ) -> tuple[Flag, ...]:
        """A step's uncertainty flags that apply to these answers, in the merchant's
        language (English when the translation has not translated all of them, or is
        outdated)."""
        locale = self.locale(code)
        texts = locale.flags.get(step.id, ())
        flags = step.flags
        if len(texts) == len(step.flags) and texts and not self.outdated(locale.code, step.id):
            flags = tuple(replace(f, text=t) for f, t in zip(step.flags, texts, strict=True))
        return tuple(flag for flag in flags if matches(flag.when, answers))

    def outdated(self, code: str | None, step_id: str) -> bool:
        """A translation made from an English ``version`` older than the current one: the
        facts may have changed since, so merchants read the English text (with a note)."""
        locale = self.locale(code)
        made = locale.sources.get(step_id)
        step = self.step_index.get(step_id)
        return made is not None and step is not None and made[0] < step.version

    def translation_state(self, code: str, step_id: str) -> str:
        """``missing``, ``outdated`` (older version), ``stale`` (English changed since the
        recorded source), ``unstamped`` (no source recorded) or ``current``."""
        locale = self.locales[code]
        if step_id not in locale.steps:
            return "missing"
        if self.outdated(code, step_id):
            return "outdated"
        _, source = locale.sources.get(step_id, (0, None))
        if source is None:
            return "unstamped"
        return "current" if source == self.english_source(step_id) else "stale"

    def english_source(self, step_id: str) -> str:
        """The :func:`source_hash` of a step's English text and flag texts: what a current
        translation records as ``source:``."""
        flags = (flag.text for flag in self.step_index[step_id].flags)
        return source_hash(self.locales[DEFAULT_LOCALE].steps[step_id], flags)

    def option_labels(self, code: str | None, qid: str) -> Mapping[str, tuple[str, ...]]:
        """Every name a merchant might type for each option: label plus synonyms (built once
        per language and question: read for every typed answer)."""
        lang = self.locale(code).code
        found = self._labels.get((lang, qid))
        if found is not None:
            return found
        result: dict[str, tuple[str, ...]] = {}
        for option in self.interview.question(qid).options:
            names: list[str] = []
            for each in dict.fromkeys((lang, DEFAULT_LOCALE)):  # theirs first; English too
                names.append(str(self.string(each, f"questions.{qid}.options.{option}")))
                try:
                    extra = self.locales[each].lookup(f"questions.{qid}.synonyms.{option}")
                except KeyError:
                    extra = []
                names.extend(str(x) for x in extra)
            result[option] = tuple(dict.fromkeys(names))
        self._labels[(lang, qid)] = result
        return result

    def typed_words(self, code: str | None) -> TypedWords:
        """What typed words mean beyond option names, normalised (``typed_answers.*``)."""

        codes = dict.fromkeys((self.locale(code).code, DEFAULT_LOCALE))

        def words(key: str, *labels: str, group: str = "typed_answers") -> frozenset[str]:
            names: list[str] = []
            for each in codes:  # the merchant's language, and English understood too
                with contextlib.suppress(KeyError):
                    names.extend(str(word) for word in self.locales[each].lookup(f"{group}.{key}"))
                names.extend(str(self.string(each, label)) for label in labels)
            return frozenset(normalise(name) for name in names) - {""}

        def phrases(key: str) -> tuple[str, ...]:
            return tuple(sorted(words(key, group="typed_dates"), key=len, reverse=True))

        try:
            rewrite = self.string(code, "typed_dates.rewrite")
        except KeyError:
            rewrite = {}
        pairs = sorted(
            ((normalise(str(k)), normalise(str(v or ""))) for k, v in dict(rewrite).items()),
            key=lambda pair: -len(pair[0]),
        )
        quarters: dict[str, int] = {}
        days: dict[str, tuple[int, int]] = {}
        for each in reversed(codes):  # the merchant's language wins over English
            with contextlib.suppress(KeyError):
                for number, names in dict(
                    self.locales[each].lookup("typed_dates.quarters")
                ).items():
                    quarters.update((normalise(str(name)), int(number)) for name in names)
            with contextlib.suppress(KeyError):
                for name, month_day in dict(self.locales[each].lookup("typed_dates.days")).items():
                    month, day = (int(part) for part in str(month_day).split("-"))
                    days[normalise(str(name))] = (month, day)
        dates = DateWords(
            today=words("today", group="typed_dates"),
            start=phrases("start"),
            middle=phrases("middle"),
            end=phrases("end"),
            rewrite=tuple(pair for pair in pairs if pair[0]),
            quarters=tuple(quarters.items()),
            days=tuple(days.items()),
            weeks=words("weeks", group="typed_dates"),
        )
        return TypedWords(
            dates=dates,
            negations=words("negations"),
            back=words("back", "buttons.back"),
            skip=words("skip", "buttons.skip", "buttons.step_skip"),
            done=words("done", "buttons.step_done"),
            next=words("next", "buttons.next_step"),
            cancel=words("cancel", "edit.cancel", group="typed_actions"),
            understood=words("understood", "buttons.step_understood", group="typed_actions"),
            undo=words("undo", "buttons.step_undo", group="typed_actions"),
            details=words("details", "buttons.step_details", group="typed_actions"),
            commands=tuple(
                (name, words(name, *labels, group="typed_actions.commands"))
                for name, labels in TYPED_COMMANDS.items()
            ),
            symbols=self._button_symbols(code),
            regions=words("regions", group="typed_actions"),
            every=words("all", group="typed_actions"),
            delete_yes=words("delete_yes", "buttons.delete_yes", group="typed_actions"),
            delete_no=words("delete_no", "buttons.delete_no", group="typed_actions"),
        )

    def _button_symbols(self, code: str | None) -> tuple[tuple[str, str], ...]:
        """Each typed-word button's leading emoji with its label (normalised), first wins:
        "✅" → "done"."""
        keys = (
            "buttons.step_done",
            "buttons.step_skip",
            "buttons.step_understood",
            "buttons.step_undo",
            "buttons.step_details",
            "buttons.next_step",
            *(label for labels in TYPED_COMMANDS.values() for label in labels),
        )
        found: dict[str, str] = {}
        for key in keys:
            label = str(self.string(code, key))
            head = label.split(" ", 1)[0].replace(VARIATION_SELECTOR, "")
            if head and head != label and not any(ch.isalnum() for ch in head):
                found.setdefault(head, normalise(label))
        return tuple(found.items())


def split_front_matter(text: str) -> tuple[str, str, int] | None:
    """(front matter, body, body's first line) or None when there is no front matter."""
    found = FRONT_MATTER.match(text)
    if not found:
        return None
    front, body = found.group(1), found.group(2)
    return front, body, front.count("\n") + 3


def _split_details(body: str, first_line: int) -> tuple[str, int, str, int]:
    """Main part and details, each with the file line where its text starts."""

    def trimmed(part: str, line: int) -> tuple[str, int]:
        lead = part[: len(part) - len(part.lstrip())]
        return part.strip(), line + lead.count("\n")

    main, _, details = body.partition(DETAILS_MARKER)
    main_text, main_line = trimmed(main, first_line)
    details_text, details_line = trimmed(details, first_line + main.count("\n"))
    return main_text, main_line, details_text, details_line


def _load_step_file(
    path: Path, model: type[BaseModel], problems: list[Problem]
) -> tuple[Any, StepText | None, dict[tuple[Any, ...], int]]:
    text = read_source(path, problems)
    if text is None:
        return None, None, {}
    parts = split_front_matter(text)
    if parts is None:
        opened = re.match(r"---[ \t]*\n", text)
        problems.append(
            Problem(
                path,
                1,
                "the front matter is never closed: end it with a line of three dashes (---)"
                if opened
                else "missing front matter: the file must start with ---",
            )
        )
        return None, None, {}
    front, body, body_line = parts
    before = len(problems)
    data, lines = _load_yaml(front, path, problems, line_offset=1)
    if data is None:
        if len(problems) == before:
            problems.append(Problem(path, 1, "the front matter is empty"))
        return None, None, lines
    meta = _validate(model, data, path, lines, problems, "front matter")
    if meta is None:
        return None, None, lines
    if meta.id != path.stem:
        problems.append(
            Problem(
                path,
                lines.get(("id",), 2),
                f"id {meta.id!r} must equal the file name {path.stem!r}",
            )
        )
    tag = markup_in(meta.title)
    if tag is not None:
        problems.append(
            Problem(
                path,
                lines.get(("title",), 2),
                f"title: HTML ({tag}) in a title is shown to merchants as it is; write plain"
                " text (& and < as they are)",
            )
        )
    main, main_line, details, details_line = _split_details(body, body_line)
    if not main:
        problems.append(Problem(path, body_line, "the body is empty"))
    return meta, StepText(meta.title, main, details, path, main_line, details_line), lines


def _check_conditions(
    conditions: Mapping[str, list[str]],
    interview: Interview,
    path: Path,
    lines: Mapping[tuple[Any, ...], int],
    where: str,
    problems: list[Problem],
) -> None:
    for key, values in conditions.items():
        line = lines.get((where, key), lines.get((where,), 1))
        question = interview.questions.get(key)
        if question is None:
            known = ", ".join(interview.questions)
            problems.append(
                Problem(path, line, f"{where}: unknown answer key {key!r} (known: {known})")
            )
            continue
        if not question.is_choice:
            problems.append(
                Problem(path, line, f"{where}: {key!r} is a typed answer, not a choice")
            )
            continue
        for value in values:
            if value not in question.options:
                options = ", ".join(question.options)
                problems.append(
                    Problem(
                        path,
                        line,
                        f"{where}: {key}={value!r} is not an option (options: {options})",
                    )
                )


def _iter_files(folder: Path, suffix: str) -> Iterator[Path]:
    if folder.is_dir():
        yield from sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))


#: What an editor's tool may have named a step's file instead of ``<id>.md``.
_STEP_SUFFIXES = (".md", ".markdown")


def _misnamed_steps(folder: Path, problems: list[Problem]) -> set[str]:
    """Files in a guidance folder meant as steps but not read (``Step.MD``, ``step.markdown``),
    each one problem; their ids, so that what requires them is not reported again. Other
    files (notes, an editor's backups) are left alone."""
    ids: set[str] = set()
    if not folder.is_dir():
        return ids
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.name.endswith(".md"):
            continue
        if path.suffix.lower() in _STEP_SUFFIXES:
            problems.append(
                Problem(
                    path, 0, "not read: a guidance step's file is named <id>.md (lower-case .md)"
                )
            )
            ids.update((path.stem, path.stem.lower()))
    return ids


def _key_lines(
    node: Mapping[Any, Any],
    lines: Mapping[tuple[Any, ...], int],
    path: Path,
    loc: tuple[Any, ...],
    found: dict[str, tuple[Path, int]],
) -> None:
    for key, value in node.items():
        here = (*loc, key)
        if isinstance(value, Mapping):
            _key_lines(value, lines, path, here, found)
        else:
            found.setdefault(".".join(str(k) for k in here), (path, _line_for(lines, here)))


def _translated_from(path: Path, problems: list[Problem]) -> tuple[dict[str, str], dict[str, str]]:
    """``locales/<lang>/translated_from.yaml``: ``strings: {dotted.key: hash}`` and
    ``templates: {name.html.j2: hash}`` (none when the file is missing)."""
    if not path.is_file():
        return {}, {}
    text = read_source(path, problems)
    data, lines = (None, {}) if text is None else _load_yaml(text, path, problems)
    found: tuple[dict[str, str], dict[str, str]] = ({}, {})
    if data is None:
        return found
    if not isinstance(data, dict) or set(data) - {"strings", "templates"}:
        problems.append(Problem(path, 1, "must be a mapping with `strings` and `templates`"))
        return found
    for section, target in zip(("strings", "templates"), found, strict=True):
        records = data.get(section) or {}
        if not isinstance(records, dict):
            problems.append(
                Problem(path, lines.get((section,), 1), f"`{section}` must be a mapping")
            )
            continue
        for name, digest in records.items():
            if not isinstance(digest, str) or not _HASH.fullmatch(digest):
                problems.append(
                    Problem(
                        path,
                        lines.get((section, name), 1),
                        f"{name}: {digest!r} is not a 12-character hash: run"
                        " `content translations --stamp` instead of editing this file",
                    )
                )
                continue
            target[str(name)] = digest
    return found


def load_content(root: Path) -> Content:
    """Read, parse and cross-check the whole tree; raise ContentError listing every problem."""
    problems: list[Problem] = []
    if not root.is_dir():
        raise ContentError([Problem(root, 0, "content folder not found (set CONTENT_DIR)")])

    def read(name: str) -> tuple[Any, dict[tuple[Any, ...], int], Path]:
        path = root / name
        if not path.is_file():
            problems.append(Problem(path, 0, "file missing"))
            return None, {}, path
        before = len(problems)
        text = read_source(path, problems)
        data, lines = (None, {}) if text is None else _load_yaml(text, path, problems)
        if data is None and len(problems) == before:
            problems.append(Problem(path, 1, "the file is empty"))
        return data, lines, path

    # Campaign.
    data, lines, campaign_path = read("campaign.yaml")
    campaign_model = (
        _validate(CampaignModel, data, campaign_path, lines, problems) if data else None
    )

    # Facts: the data the guidance reads, each with its checked and review dates.
    raw_facts, facts_lines, facts_path = read("facts.yaml")
    facts: dict[str, Any] = {}
    fact_info: dict[str, Fact] = {}
    covers: dict[str, tuple[str, ...]] = {}
    if raw_facts is not None and not isinstance(raw_facts, dict):
        problems.append(Problem(facts_path, 1, "facts must be a mapping"))
    elif raw_facts is not None:
        facts, fact_info, covers = read_facts(raw_facts, facts_lines, facts_path, problems)

    # Interview.
    data, ilines, interview_path = read("interview.yaml")
    interview_model = (
        _validate(InterviewModel, data, interview_path, ilines, problems) if data else None
    )
    interview = (
        _build_interview(interview_model, interview_path, ilines, problems)
        if interview_model
        else None
    )

    shop_markets = (
        _shop_markets(facts, covers, interview, facts_path, facts_lines, problems)
        if interview is not None
        else frozenset()
    )

    # Guidance (English is canonical: it carries the structure).
    steps: list[Step] = []
    english_steps: dict[str, StepText] = {}
    step_lines: dict[str, tuple[Path, dict[tuple[Any, ...], int], list[str]]] = {}
    step_names: dict[str, tuple[list[str], list[str]]] = {}
    guidance_dir = root / "guidance"
    files = list(_iter_files(guidance_dir, ".md"))
    if not files:
        problems.append(Problem(guidance_dir, 0, "no guidance steps found"))
    # Steps whose file did not load: what names them is not reported again (one problem
    # per mistake, not one more per step that requires it or per translation).
    broken: set[str] = _misnamed_steps(guidance_dir, problems)
    latest = latest_check_day()
    for path in files:
        meta, text, slines = _load_step_file(path, StepModel, problems)
        if meta is None or text is None:
            broken.add(path.stem)
            continue
        if meta.checked > latest:
            problems.append(
                Problem(
                    path,
                    slines.get(("checked",), 2),
                    f"`checked` {meta.checked.isoformat()} is in the future:"
                    " set it to the day you last checked the sources",
                )
            )
        if meta.id in english_steps:
            problems.append(
                Problem(path, slines.get(("id",), 2), f"duplicate step id {meta.id!r}")
            )
            continue
        if interview is not None:
            _check_conditions(meta.when, interview, path, slines, "when", problems)
            _check_conditions(meta.unless, interview, path, slines, "unless", problems)
            _check_conditions(meta.only, interview, path, slines, "only", problems)
            for index, flag in enumerate(meta.flags):  # lines as ("when", key) below the flag
                at = {key[2:]: line for key, line in slines.items() if key[:2] == ("flags", index)}
                _check_conditions(flag.when, interview, path, at, "when", problems)
        english_steps[meta.id] = text
        step_lines[meta.id] = (path, slines, list(meta.requires))
        step_names[meta.id] = (list(meta.excludes), list(meta.conflicts))
        steps.append(
            Step(
                id=meta.id,
                version=meta.version,
                title=meta.title,
                scope=meta.scope,
                when={k: frozenset(v) for k, v in meta.when.items()},
                unless={k: frozenset(v) for k, v in meta.unless.items()},
                requires=tuple(meta.requires),
                minutes=meta.minutes,
                sources=tuple(Source(s.url, s.title, s.date) for s in meta.sources),
                checked=meta.checked,
                flags=tuple(
                    Flag(f.kind, f.text, {k: frozenset(v) for k, v in f.when.items()})
                    for f in meta.flags
                ),
                order=meta.order,
                kind=meta.kind,
                tags=frozenset(meta.tags),
                excludes=tuple(meta.excludes),
                conflicts=tuple(meta.conflicts),
                only={k: frozenset(v) for k, v in meta.only.items()},
                mentions=frozenset(meta.mentions),
            )
        )
    ids = {s.id for s in steps}
    tags = {tag for s in steps for tag in s.tags}
    for step in steps:
        path, slines, _ = step_lines[step.id]
        for tag in sorted(step.tags & ids):
            problems.append(
                Problem(path, slines.get(("tags",), 1), f"tag {tag!r} is also a step id")
            )
        for where, names in zip(("excludes", "conflicts"), step_names[step.id], strict=True):
            for index, name in enumerate(names):
                if name not in ids and name not in tags:
                    if name in broken:
                        continue
                    problems.append(
                        Problem(
                            path,
                            _line_for(slines, (where, index)),
                            f"{where}: {name!r} is neither a step id nor a tag",
                        )
                    )
                elif name in step.names:
                    problems.append(
                        Problem(
                            path,
                            _line_for(slines, (where, index)),
                            f"{where}: a step cannot name itself",
                        )
                    )
    for sid, (path, slines, requires) in step_lines.items():
        for index, req in enumerate(requires):
            if req not in ids and req not in broken:
                problems.append(
                    Problem(
                        path,
                        _line_for(slines, ("requires", index)),
                        f"requires unknown step {req!r}",
                    )
                )
            if req == sid:
                problems.append(
                    Problem(
                        path,
                        _line_for(slines, ("requires", index)),
                        "a step cannot require itself",
                    )
                )
    cycle = find_cycle(steps)
    if cycle:
        path, slines, _ = step_lines[cycle[0]]
        problems.append(
            Problem(
                path, slines.get(("requires",), 1), "prerequisite cycle: " + " -> ".join(cycle)
            )
        )

    # Locales.
    locales: dict[str, Locale] = {}
    unreadable: set[str] = set()
    locales_dir = root / "locales"
    for folder in (
        sorted(p for p in locales_dir.iterdir() if p.is_dir()) if locales_dir.is_dir() else []
    ):
        code = folder.name
        if not LOCALE_CODE.match(code):
            if not code.startswith("."):
                problems.append(
                    Problem(
                        folder,
                        0,
                        "not a language code: name a locale's folder by its code (de, fr, pt-BR)",
                    )
                )
            continue
        strings_path = folder / "strings.yaml"
        strings: dict[str, Any] = {}
        key_lines: dict[str, tuple[Path, int]] = {}
        if not strings_path.is_file() and code == DEFAULT_LOCALE:
            problems.append(Problem(strings_path, 0, "file missing"))
        # strings.yaml plus any strings.<topic>.yaml, merged by top-level key.
        for path in sorted(folder.glob("strings*.yaml")):
            before = len(problems)
            source = read_source(path, problems)
            data, slines = (None, {}) if source is None else _load_yaml(source, path, problems)
            if len(problems) > before:  # a YAML error: one problem, not one per missing string
                unreadable.add(code)
            if data is None:
                continue
            if not isinstance(data, dict):
                problems.append(Problem(path, 1, "strings must be a mapping"))
                continue
            data = _text_keys(data)  # YAML reads `1:` as a number; strings keys are text
            _check_text(data, slines, path, problems)
            _check_typed_dates(data.get("typed_dates"), slines, path, problems)
            _key_lines(data, slines, path, (), key_lines)
            for key, value in data.items():
                if key in strings:
                    line = slines.get((key,), 1)
                    problems.append(
                        Problem(path, line, f"{key!r} is already defined in another strings file")
                    )
                    continue
                strings[key] = value
        translated: dict[str, StepText] = dict(english_steps) if code == DEFAULT_LOCALE else {}
        sources: dict[str, tuple[int, str | None]] = {}
        flag_texts: dict[str, tuple[str, ...]] = {}
        if code != DEFAULT_LOCALE:
            broken |= _misnamed_steps(folder / "guidance", problems)
            for path in _iter_files(folder / "guidance", ".md"):
                meta, text, tlines = _load_step_file(path, TranslationModel, problems)
                if meta is None or text is None:
                    continue
                if meta.id in broken:
                    continue
                if meta.id not in english_steps:
                    problems.append(
                        Problem(
                            path,
                            tlines.get(("id",), 2),
                            f"translation of unknown step {meta.id!r}",
                        )
                    )
                    continue
                translated[meta.id] = text
                sources[meta.id] = (meta.version, meta.source)
                if meta.flags:
                    flag_texts[meta.id] = tuple(meta.flags)
        for path in sorted((folder / "templates").rglob("*.j2")):
            read_source(path, problems)  # the renderer reads them once this has passed
        key_sources, template_sources = _translated_from(folder / TRANSLATED_FROM, problems)
        locales[code] = Locale(
            code,
            strings,
            translated,
            folder / "templates",
            sources,
            flag_texts,
            key_sources,
            template_sources,
            key_lines,
        )
    if DEFAULT_LOCALE not in locales:
        problems.append(Problem(locales_dir / DEFAULT_LOCALE, 0, "the English locale is missing"))
    elif interview is not None and DEFAULT_LOCALE not in unreadable:
        _check_strings(
            locales[DEFAULT_LOCALE],
            interview,
            locales_dir / DEFAULT_LOCALE / "strings.yaml",
            problems,
        )

    if problems or campaign_model is None or interview is None:
        raise ContentError(problems or [Problem(root, 0, "content could not be loaded")])
    campaign = Campaign(
        id=campaign_model.id,
        version=campaign_model.version,
        deadline=campaign_model.deadline,
        alert_offsets=parse_offsets(",".join(campaign_model.alert_offsets)),
        nudge_after_days=campaign_model.nudge_after_days,
    )
    english = Content(
        root=root,
        campaign=campaign,
        facts={},
        interview=interview,
        steps=(),
        locales=locales,
    )
    content = Content(
        root=root,
        campaign=campaign,
        facts=render_tree(facts, DEFAULT_LOCALE, english.words(DEFAULT_LOCALE)),
        fact_values=facts,
        interview=interview,
        steps=tuple(steps),
        locales=locales,
        step_index={s.id: s for s in steps},
        fact_info=fact_info,
        shop_markets=shop_markets,
        hash=tree_hash(root),
    )
    _check_titles(content, problems)
    if problems:
        raise ContentError(problems)
    return content


def _check_titles(content: Content, problems: list[Problem]) -> None:
    """Titles are plain text with at most ``{{ facts.<name> }}`` in them, and fit in every
    language once the facts are written."""
    for locale in content.locales.values():
        for text in locale.steps.values():
            if "{" not in text.title and "}" not in text.title and len(text.title) <= MAX_TITLE:
                continue
            lines = text.path.read_text(encoding="utf-8").splitlines()
            line = next((i for i, x in enumerate(lines, 1) if x.startswith("title:")), 2)
            rest = _TITLE_FACT.sub("", text.title)
            if "{" in rest or "}" in rest:
                problems.append(
                    Problem(text.path, line, "a title is plain text: only {{ facts.<name> }}")
                )
                continue
            codes = content.shipped if locale.code == DEFAULT_LOCALE else (locale.code,)
            for code in codes:
                try:
                    shown = content.title_in(code, text.title)
                except KeyError as exc:
                    problems.append(
                        Problem(text.path, line, f"title: unknown fact facts.{exc.args[0]}")
                    )
                    break
                if len(shown) > MAX_TITLE:
                    problems.append(
                        Problem(
                            text.path,
                            line,
                            f"title: over {MAX_TITLE} characters in {code} ({len(shown)})",
                        )
                    )
                    break


def _shop_markets(
    facts: Mapping[str, Any],
    covers: Mapping[str, tuple[str, ...]],
    interview: Interview,
    path: Path,
    lines: Mapping[tuple[Any, ...], int],
    problems: list[Problem],
) -> frozenset[str]:
    """The market options TikTok Shop exists in: ``markets.<id>`` in facts.yaml.

    Guidance reads it as ``shop_markets`` (the merchant's markets among them), so a market
    added to interview.yaml and facts.yaml is never told "TikTok Shop is not available".
    """
    question = interview.questions.get("market")
    groups = facts.get("markets")
    if question is None or not isinstance(groups, Mapping):
        return frozenset()
    options = set(question.options)
    found: set[str] = set()
    for name in groups:
        listed = covers.get(f"markets.{name}")
        ids = listed if listed is not None else (name,)
        for market in ids:
            if market in options:
                found.add(market)
                continue
            line = _line_for(lines, ("markets", name))
            if listed is None:
                problems.append(
                    Problem(
                        path,
                        line,
                        f"markets.{name}: {name!r} is not a market id in interview.yaml"
                        f" ({', '.join(question.options)}); if the group covers several"
                        " markets, list them: `_markets: [id, ...]`",
                    )
                )
            else:
                problems.append(
                    Problem(path, line, f"markets.{name}._markets: {market!r} is not a market id")
                )
    return frozenset(found)


def tree_hash(root: Path) -> str:
    """A short, stable hash of every file under ``root`` (relative path and bytes).

    The same tree gives the same hash on every machine, so operators can tell which content
    is live, and a full check can be cached by it.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if "__pycache__" in relative or relative.endswith((".pyc", "~", ".swp")):
            continue
        data = path.read_bytes()
        digest.update(f"{relative}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:12]


def _build_interview(
    model: InterviewModel,
    path: Path,
    lines: Mapping[tuple[Any, ...], int],
    problems: list[Problem],
) -> Interview | None:
    ids = [q.id for q in model.questions]
    known = set(ids)
    before = len(problems)
    if len(known) != len(ids):
        problems.append(Problem(path, lines.get(("questions",), 1), "question ids repeat"))
    if model.start not in known:
        problems.append(
            Problem(path, lines.get(("start",), 1), f"start {model.start!r} is not a question")
        )
    questions: dict[str, Question] = {}
    for index, q in enumerate(model.questions):
        here = lines.get(("questions", index), 1)
        if q.kind in ("one", "many") and len(q.options) < 2:
            problems.append(Problem(path, here, f"{q.id}: a choice needs at least two options"))
        if q.kind in ("text", "date") and q.options:
            problems.append(Problem(path, here, f"{q.id}: typed questions have no options"))
        if q.pattern is not None:
            try:
                re.compile(q.pattern)
            except re.error as exc:
                problems.append(Problem(path, here, f"{q.id}: bad pattern: {exc}"))
        if q.next is None:
            routes: tuple[Route, ...] = (Route(END),)
        elif isinstance(q.next, str):
            routes = (Route(q.next),)
        else:
            routes = tuple(
                Route(
                    r.goto,
                    {k: frozenset(v) for k, v in r.when.items()},
                    {k: frozenset(v) for k, v in r.only.items()},
                )
                for r in q.next
            )
            if q.next and (q.next[-1].when or q.next[-1].only):
                problems.append(
                    Problem(
                        path,
                        here,
                        f"{q.id}: the last branch of next must have no 'when' or 'only'"
                        " (the default)",
                    )
                )
        for r in routes:
            if r.goto != END and r.goto not in known:
                problems.append(
                    Problem(path, here, f"{q.id}: next goes to unknown question {r.goto!r}")
                )
        questions[q.id] = Question(
            id=q.id,
            kind=q.kind,
            options=tuple(q.options),
            routes=routes,
            optional=q.optional,
            max_length=q.max_length,
            pattern=q.pattern,
            min_days_ahead=q.min_days_ahead,
            max_days_ahead=q.max_days_ahead,
            numbers=dict(q.numbers),
            places=(q.places.question, q.places.inside, q.places.outside) if q.places else None,
            everything=tuple(o for o in q.options if o in q.all),
        )
        if q.all and (q.kind != "many" or not set(q.all) <= set(q.options)):
            problems.append(
                Problem(
                    path,
                    lines.get(("questions", index, "all"), here),
                    f"{q.id}: all must list options of a several-choice (many) question",
                )
            )
        for option, (low, high) in q.numbers.items():
            if option not in q.options or q.kind != "one" or (high is not None and high < low):
                problems.append(
                    Problem(path, here, f"{q.id}: numbers.{option} is not a range of an option")
                )
    interview = Interview(model.version, model.start, questions)
    for index, q in enumerate(model.questions):
        places = q.places
        where = questions.get(places.question) if places is not None else None
        if places is not None and (
            where is None
            or not where.is_choice
            or ids.index(where.id) >= ids.index(q.id)
            or q.kind != "one"
            or not {places.inside, places.outside} <= set(q.options)
        ):
            problems.append(
                Problem(
                    path,
                    lines.get(("questions", index), 1),
                    f"{q.id}: places must name an earlier choice question and two of its options",
                )
            )
    for index, q in enumerate(model.questions):
        for branch, r in enumerate(questions[q.id].routes):
            for key, values in (*r.when.items(), *r.only.items()):
                other = questions.get(key)
                if other is None or not other.is_choice or not values <= set(other.options):
                    unknown = sorted(values - set(other.options)) if other else []
                    problems.append(
                        Problem(
                            path,
                            lines.get(
                                ("questions", index, "next", branch),
                                lines.get(("questions", index), 1),
                            ),
                            f"{q.id}: next has a bad condition on {key!r}"
                            + (f": no option {', '.join(map(repr, unknown))}" if unknown else ""),
                        )
                    )
    # Branches only go forward, so every path ends.
    order = {qid: i for i, qid in enumerate(ids)}
    for index, q in enumerate(model.questions):
        for r in questions[q.id].routes:
            if r.goto != END and r.goto in order and order[r.goto] <= order[q.id]:
                problems.append(
                    Problem(
                        path,
                        lines.get(("questions", index), 1),
                        f"{q.id}: next must go to a later question, not {r.goto!r}",
                    )
                )
    return interview if len(problems) == before else None


_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")


def _check_typed_dates(
    node: Any, lines: Mapping[tuple[Any, ...], int], path: Path, problems: list[Problem]
) -> None:
    """``typed_dates.quarters`` (1 to 4: a list of names) and ``typed_dates.days`` (a name:
    month-day) are data the date reader trusts: refuse what it could not read."""
    if not isinstance(node, Mapping):
        return

    def problem(loc: tuple[Any, ...], message: str) -> None:
        problems.append(Problem(path, _line_for(lines, ("typed_dates", *loc)), message))

    quarters = node.get("quarters", {})
    if not isinstance(quarters, Mapping):
        problem(("quarters",), "typed_dates.quarters: a mapping of 1 to 4 to lists of names")
    else:
        for number, names in quarters.items():
            if number not in ("1", "2", "3", "4"):
                problem(
                    ("quarters", number),
                    f"typed_dates.quarters: {number} is not a quarter (1 to 4)",
                )
            elif not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                problem(("quarters", number), f"typed_dates.quarters.{number}: a list of names")
    days = node.get("days", {})
    if not isinstance(days, Mapping):
        problem(("days",), "typed_dates.days: a mapping of names to month-days such as 12-25")
        return
    for name, month_day in days.items():
        found = _MONTH_DAY.match(str(month_day))
        try:
            valid = found is not None and bool(date(2024, int(found[1]), int(found[2])))
        except ValueError:
            valid = False
        if not valid:
            problem(
                ("days", name),
                f"typed_dates.days.{name}: {str(month_day)!r} is not a month-day such as 12-25",
            )


def _text_keys(node: Any) -> Any:
    """A strings mapping with every key as text, however YAML read it (``1:`` is a number)."""
    if isinstance(node, dict):
        return {str(key): _text_keys(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_text_keys(item) for item in node]
    return node


def _check_text(
    node: Any,
    lines: Mapping[tuple[Any, ...], int],
    path: Path,
    problems: list[Problem],
    loc: tuple[Any, ...] = (),
) -> None:
    """Strings files hold text: flag YAML's bare yes / no / on / off / ~ read as non-text."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            _check_text(value, lines, path, problems, (*loc, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _check_text(item, lines, path, problems, (*loc, index))
    elif isinstance(node, bool) or node is None:
        where = ".".join(str(part) for part in loc)
        read = {True: "true", False: "false", None: "nothing"}[node]
        problems.append(
            Problem(
                path,
                _line_for(lines, loc),
                f'{where} reads as {read}, not text: put it in quotes (e.g. "no")',
            )
        )


def _check_strings(
    locale: Locale, interview: Interview, path: Path, problems: list[Problem]
) -> None:
    for qid, question in interview.questions.items():
        for key in (f"questions.{qid}.text", f"questions.{qid}.label"):
            try:
                locale.lookup(key)
            except KeyError:
                problems.append(Problem(path, 1, f"missing string {key}"))
        for option in question.options:
            try:
                locale.lookup(f"questions.{qid}.options.{option}")
            except KeyError:
                problems.append(
                    Problem(path, 1, f"missing option label questions.{qid}.options.{option}")
                )
