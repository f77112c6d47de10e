"""Load and validate the content tree once; a broken file is named with its line."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.alerts.planner import parse_offsets
from bot.domain.interview import END, Interview, Question, Route, TypedWords, normalise
from bot.domain.plan import Flag, Source, Step, find_cycle

DEFAULT_LOCALE = "en"
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"  # short: step ids travel in callback data
DETAILS_MARKER = "<!-- details -->"
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


def _load_yaml(
    text: str, path: Path, problems: list[Problem], line_offset: int = 0
) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML; return the data and the line (1-based) of every mapping key / list item."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 1 if mark else 1) + line_offset
        problems.append(Problem(path, line, f"YAML error: {getattr(exc, 'problem', exc)}"))
        return None, {}
    lines: dict[tuple[Any, ...], int] = {}

    def walk(n: yaml.Node | None, loc: tuple[Any, ...]) -> None:
        if n is None:
            return
        lines.setdefault(loc, n.start_mark.line + 1 + line_offset)
        if isinstance(n, yaml.MappingNode):
            for key_node, value_node in n.value:
                key = (key_node.value,)
                lines[loc + key] = key_node.start_mark.line + 1 + line_offset
                walk(value_node, loc + key)
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                walk(item, (*loc, index))

    walk(node, ())
    return data, lines


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
) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            where = ".".join(str(p) for p in loc) or "file"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(Problem(path, _line_for(lines, loc), f"{where}: {message}"))
        return None


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
    nudge_after_days: int = Field(default=7, ge=1)

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
    """One branch of ``next``."""

    goto: str
    when: dict[str, list[str]] = {}

    @field_validator("when", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _as_list(value)


class QuestionModel(_Strict):
    """One interview question."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,19}$")
    kind: Literal["one", "many", "text", "date"]
    options: list[str] = []
    optional: bool = False
    next: str | list[RouteModel] | None = None
    max_length: int = Field(default=200, ge=1, le=1000)
    pattern: str | None = None
    min_days_ahead: int = 0
    max_days_ahead: int = 5 * 366

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
    """An uncertainty flag in a step's front matter."""

    kind: Literal["unverified", "disputed"]
    text: str = Field(min_length=10)


class StepModel(_Strict):
    """A guidance step's front matter."""

    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(ge=1)
    title: str = Field(min_length=3, max_length=80)
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
    """A translated step's front matter: only what a translator changes."""

    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(ge=1)
    title: str = Field(min_length=3, max_length=80)


# --- the loaded tree -----------------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    """The shutdown this bot is about, with its alert offsets."""

    id: str
    version: int
    deadline: datetime
    alert_offsets: tuple[timedelta, ...]
    nudge_after_days: int


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

    def lookup(self, key: str) -> Any:
        """A string (or mapping) by dotted key, KeyError when missing."""
        node: Any = self.strings
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(key)
            node = node[part]
        return node


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
    #: The content's identity: a hash of every file of the tree (see :func:`tree_hash`).
    hash: str = ""

    def locale(self, code: str | None) -> Locale:
        """The locale for a Telegram language code, falling back to English."""
        if code:
            base = code.split("-")[0].lower()
            if base in self.locales:
                return self.locales[base]
        return self.locales[DEFAULT_LOCALE]

    def string(self, code: str | None, key: str) -> Any:
        """A string in the merchant's language, falling back to English per key."""
        try:
            return self.locale(code).lookup(key)
        except KeyError:
            return self.locales[DEFAULT_LOCALE].lookup(key)

    def step_text(self, code: str | None, step_id: str) -> StepText:
        """A step's words in the merchant's language (English when not translated)."""
        locale = self.locale(code)
        if step_id in locale.steps:
            return locale.steps[step_id]
        return self.locales[DEFAULT_LOCALE].steps[step_id]

    def option_labels(self, code: str | None, qid: str) -> dict[str, list[str]]:
        """Every name a merchant might type for each option: label plus synonyms."""
        result: dict[str, list[str]] = {}
        for option in self.interview.question(qid).options:
            names = [str(self.string(code, f"questions.{qid}.options.{option}"))]
            try:
                extra = self.string(code, f"questions.{qid}.synonyms.{option}")
            except KeyError:
                extra = []
            names.extend(str(x) for x in extra)
            result[option] = names
        return result

    def typed_words(self, code: str | None) -> TypedWords:
        """What typed words mean beyond option names, normalised (``typed_answers.*``)."""

        def words(key: str, *labels: str) -> frozenset[str]:
            try:
                listed = [str(word) for word in self.string(code, f"typed_answers.{key}")]
            except KeyError:
                listed = []
            names = [*listed, *(str(self.string(code, label)) for label in labels)]
            return frozenset(normalise(name) for name in names) - {""}

        return TypedWords(
            negations=words("negations"),
            back=words("back", "buttons.back"),
            skip=words("skip", "buttons.skip"),
        )


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
    text = path.read_text(encoding="utf-8")
    parts = split_front_matter(text)
    if parts is None:
        problems.append(Problem(path, 1, "missing front matter: the file must start with ---"))
        return None, None, {}
    front, body, body_line = parts
    data, lines = _load_yaml(front, path, problems, line_offset=1)
    if data is None:
        return None, None, lines
    meta = _validate(model, data, path, lines, problems)
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
        data, lines = _load_yaml(path.read_text(encoding="utf-8"), path, problems)
        return data, lines, path

    # Campaign.
    data, lines, campaign_path = read("campaign.yaml")
    campaign_model = (
        _validate(CampaignModel, data, campaign_path, lines, problems) if data else None
    )

    # Facts: free-form data the guidance reads.
    facts, _, facts_path = read("facts.yaml")
    if facts is not None and not isinstance(facts, dict):
        problems.append(Problem(facts_path, 1, "facts must be a mapping"))
        facts = {}

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

    # Guidance (English is canonical: it carries the structure).
    steps: list[Step] = []
    english_steps: dict[str, StepText] = {}
    step_lines: dict[str, tuple[Path, dict[tuple[Any, ...], int], list[str]]] = {}
    step_names: dict[str, tuple[list[str], list[str]]] = {}
    guidance_dir = root / "guidance"
    files = list(_iter_files(guidance_dir, ".md"))
    if not files:
        problems.append(Problem(guidance_dir, 0, "no guidance steps found"))
    for path in files:
        meta, text, slines = _load_step_file(path, StepModel, problems)
        if meta is None or text is None:
            continue
        if meta.id in english_steps:
            problems.append(
                Problem(path, slines.get(("id",), 2), f"duplicate step id {meta.id!r}")
            )
            continue
        if interview is not None:
            _check_conditions(meta.when, interview, path, slines, "when", problems)
            _check_conditions(meta.unless, interview, path, slines, "unless", problems)
            _check_conditions(meta.only, interview, path, slines, "only", problems)
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
                flags=tuple(Flag(f.kind, f.text) for f in meta.flags),
                order=meta.order,
                kind=meta.kind,
                tags=frozenset(meta.tags),
                excludes=tuple(meta.excludes),
                conflicts=tuple(meta.conflicts),
                only={k: frozenset(v) for k, v in meta.only.items()},
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
            if req not in ids:
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
    locales_dir = root / "locales"
    for folder in (
        sorted(p for p in locales_dir.iterdir() if p.is_dir()) if locales_dir.is_dir() else []
    ):
        code = folder.name
        strings_path = folder / "strings.yaml"
        strings: dict[str, Any] = {}
        if not strings_path.is_file() and code == DEFAULT_LOCALE:
            problems.append(Problem(strings_path, 0, "file missing"))
        # strings.yaml plus any strings.<topic>.yaml, merged by top-level key.
        for path in sorted(folder.glob("strings*.yaml")):
            data, slines = _load_yaml(path.read_text(encoding="utf-8"), path, problems)
            if data is None:
                continue
            if not isinstance(data, dict):
                problems.append(Problem(path, 1, "strings must be a mapping"))
                continue
            _check_text(data, slines, path, problems)
            for key, value in data.items():
                if key in strings:
                    line = slines.get((key,), 1)
                    problems.append(
                        Problem(path, line, f"{key!r} is already defined in another strings file")
                    )
                    continue
                strings[key] = value
        translated: dict[str, StepText] = dict(english_steps) if code == DEFAULT_LOCALE else {}
        if code != DEFAULT_LOCALE:
            for path in _iter_files(folder / "guidance", ".md"):
                meta, text, tlines = _load_step_file(path, TranslationModel, problems)
                if meta is None or text is None:
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
        locales[code] = Locale(code, strings, translated, folder / "templates")
    if DEFAULT_LOCALE not in locales:
        problems.append(Problem(locales_dir / DEFAULT_LOCALE, 0, "the English locale is missing"))
    elif interview is not None:
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
    return Content(
        root=root,
        campaign=campaign,
        facts=facts or {},
        interview=interview,
        steps=tuple(steps),
        locales=locales,
        step_index={s.id: s for s in steps},
        hash=tree_hash(root),
    )


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
                Route(r.goto, {k: frozenset(v) for k, v in r.when.items()}) for r in q.next
            )
            if q.next and q.next[-1].when:
                problems.append(
                    Problem(
                        path,
                        here,
                        f"{q.id}: the last branch of next must have no 'when' (the default)",
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
        )
    interview = Interview(model.version, model.start, questions)
    for index, q in enumerate(model.questions):
        for r in questions[q.id].routes:
            for key, values in r.when.items():
                other = questions.get(key)
                if other is None or not other.is_choice or not values <= set(other.options):
                    problems.append(
                        Problem(
                            path,
                            lines.get(("questions", index), 1),
                            f"{q.id}: next has a bad condition on {key!r}",
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
