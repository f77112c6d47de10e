"""The interview engine: pure functions over answers and the path the merchant took.

No Telegram, SQL or templates here. State goes in, new state (or a refusal) comes out.
"""

from __future__ import annotations

import calendar
import functools
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

Kind = Literal["one", "many", "text", "date"]
END = "end"
# Answers are str (one/text/date as ISO), list[str] (many) or None (an optional question
# the merchant skipped).
Answer = str | list[str] | None
Conditions = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Route:
    """Go to ``goto`` when every condition holds (no conditions: always): ``when``, an
    answer among the listed; ``only``, something picked and nothing outside the list."""

    goto: str
    when: Conditions = field(default_factory=dict)
    only: Conditions = field(default_factory=dict)

    @property
    def keys(self) -> set[str]:
        """The questions this branch reads."""
        return {*self.when, *self.only}

    def holds(self, answers: Mapping[str, Answer]) -> bool:
        """Whether the merchant's answers take this branch."""
        return matches(self.when, answers) and only_matches(self.only, answers)


@dataclass(frozen=True)
class Question:
    """One interview question with its options (ids) and where each answer leads."""

    id: str
    kind: Kind
    options: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()
    optional: bool = False
    max_length: int = 200
    pattern: str | None = None
    min_days_ahead: int = 0
    max_days_ahead: int = 5 * 366
    #: A number typed at a one-choice question picks the option whose range holds it
    #: ("about 300 products"): option id -> (lowest, highest or None for no upper bound).
    numbers: Mapping[str, tuple[int, int | None]] = field(default_factory=dict)
    #: A place typed at a one-choice question ("based in Germany") is read as an answer of
    #: an earlier choice question (``market``): the ``inside`` option when every place named
    #: is among its answers, ``outside`` when none is. (question id, inside, outside)
    places: tuple[str, str, str] | None = None
    #: What "all of them" typed at a several-choice question ticks (``typed_actions.all``);
    #: empty: typed "all" is not guessed there.
    everything: tuple[str, ...] = ()

    @property
    def is_choice(self) -> bool:
        """Whether the merchant answers with buttons."""
        return self.kind in ("one", "many")


@dataclass(frozen=True)
class Interview:
    """The whole questionnaire: a start question and the branching graph."""

    version: int
    start: str
    questions: Mapping[str, Question]

    def question(self, qid: str) -> Question:
        """The question with this id (KeyError if unknown)."""
        return self.questions[qid]


@dataclass(frozen=True)
class State:
    """A merchant's interview state as stored in SQL."""

    answers: Mapping[str, Answer]
    path: tuple[str, ...] = ()  # questions answered, in the order the merchant took them
    current: str | None = None  # the question on screen; None when finished
    mode: Literal["interview", "edit", "done"] = "interview"
    # While changing answers from the profile: the answers as they were when the change
    # began, so Cancel can put them back (a several-choice question changes as it is ticked).
    before: Mapping[str, Answer] | None = None


def matches(conditions: Conditions, answers: Mapping[str, Answer]) -> bool:
    """True when every condition holds: a one-answer is in the set, a many-answer meets it."""
    for key, allowed in conditions.items():
        value = answers.get(key)
        if value is None:
            return False
        if isinstance(value, list):
            if not allowed.intersection(value):
                return False
        elif value not in allowed:
            return False
    return True


def options_picked(value: Answer) -> list[str]:
    """An answer as the list of options picked (none for a skipped or missing answer)."""
    return value if isinstance(value, list) else [value] if value else []


def only_matches(only: Conditions, answers: Mapping[str, Answer]) -> bool:
    """Every ``only`` condition holds: something picked, and nothing outside the list."""
    for key, allowed in only.items():
        values = options_picked(answers.get(key))
        if not values or not allowed.issuperset(values):
            return False
    return True


def route(interview: Interview, qid: str, answers: Mapping[str, Answer]) -> str | None:
    """The question that follows ``qid`` given the answers, or None at the end."""
    for candidate in interview.question(qid).routes:
        if candidate.holds(answers):
            return None if candidate.goto == END else candidate.goto
    return None


def active_path(
    interview: Interview, answers: Mapping[str, Answer]
) -> tuple[list[str], str | None]:
    """Walk from the start: the questions on the merchant's branch, and the first unanswered.

    Answers to questions off the branch (after an edit) stay stored but do not count.
    """
    walked: list[str] = []
    qid: str | None = interview.start
    while qid is not None and qid not in walked:
        if qid not in answers:
            return walked, qid
        walked.append(qid)
        qid = route(interview, qid, answers)
    return walked, None


def likely_path(interview: Interview, answers: Mapping[str, Answer]) -> list[str]:
    """Every question on the merchant's branch from the start to the end, answered or not.

    Unanswered questions route as if their answers matched no branch condition (the default
    branch), so this is the path the merchant will most likely walk: "Question 3 of 10".
    """
    walked: list[str] = []
    qid: str | None = interview.start
    while qid is not None and qid not in walked:
        walked.append(qid)
        qid = route(interview, qid, answers)
    return walked


def effective_answers(interview: Interview, answers: Mapping[str, Answer]) -> dict[str, Answer]:
    """The answers on the merchant's current branch; every question key is present."""
    walked, _ = active_path(interview, answers)
    result: dict[str, Answer] = {}
    for qid, question in interview.questions.items():
        value = answers.get(qid) if qid in walked else None
        if question.kind == "many":
            result[qid] = list(value) if isinstance(value, list) else []
        else:
            result[qid] = value if isinstance(value, str) else None
    return result


def changed_answers(
    interview: Interview, before: Mapping[str, Answer], after: Mapping[str, Answer]
) -> set[str]:
    """The questions whose answer differs, as given or as it counts: an answer left off
    the path the other answers take no longer counts (a go-live date once the merchant
    already sells), and counts again when the path comes back to it."""
    given = {key for key in {*before, *after} if before.get(key) != after.get(key)}
    was, now = effective_answers(interview, before), effective_answers(interview, after)
    return given | {key for key in {*was, *now} if was.get(key) != now.get(key)}


def clean_answers(interview: Interview, answers: Mapping[str, Any]) -> dict[str, Answer]:
    """Drop answers the current content no longer knows (removed questions or options)."""
    cleaned: dict[str, Answer] = {}
    for qid, value in answers.items():
        question = interview.questions.get(qid)
        if question is None:
            continue
        if value is None:
            if question.optional:
                cleaned[qid] = None
        elif question.kind == "one" and isinstance(value, str) and value in question.options:
            cleaned[qid] = value
        elif question.kind == "many" and isinstance(value, list):
            kept = [v for v in value if v in question.options]
            if kept:
                cleaned[qid] = kept
        elif question.kind in ("text", "date") and isinstance(value, str):
            cleaned[qid] = value
    return cleaned


def begin(interview: Interview, answers: Mapping[str, Answer]) -> State:
    """Resume (or start) the interview at the first unanswered question on the branch."""
    walked, pending = active_path(interview, answers)
    if pending is None:
        return State(answers=dict(answers), path=tuple(walked), current=None, mode="done")
    return State(answers=dict(answers), path=tuple(walked), current=pending, mode="interview")


def resume(
    interview: Interview,
    answers: Mapping[str, Any],
    path: Sequence[str],
    current: str | None,
    mode: str,
    before: Mapping[str, Any] | None = None,
) -> State:
    """A stored interview, read against today's content (which may have changed since).

    Answers the content no longer knows are dropped; a question that no longer exists, or a
    branch that grew a question since the merchant finished, restarts at the first
    unanswered question; an unknown mode is read as the interview.
    """
    cleaned = clean_answers(interview, answers)
    kept = tuple(q for q in path if q in interview.questions)
    if current is not None and current not in interview.questions:
        return begin(interview, cleaned)
    if mode == "done":
        walked, pending = active_path(interview, cleaned)
        if pending is not None:  # content grew a question on this branch: ask it
            return begin(interview, cleaned)
        return State(answers=cleaned, path=tuple(walked), current=None, mode="done")
    if current is None:
        return begin(interview, cleaned)
    if mode == "edit":
        kept_before = clean_answers(interview, before) if before is not None else None
        return State(answers=cleaned, path=kept, current=current, mode="edit", before=kept_before)
    return State(answers=cleaned, path=kept, current=current, mode="interview")


def _advance(interview: Interview, state: State, qid: str, answers: dict[str, Answer]) -> State:
    path = (*state.path, qid)
    if state.mode == "edit":
        # After changing one answer, only ask what the change newly made necessary.
        walked, pending = active_path(interview, answers)
        if pending is None:
            return State(answers=answers, path=tuple(walked), current=None, mode="done")
        return State(answers=answers, path=path, current=pending, mode="edit", before=state.before)
    # Walking forward shows the next question even when it holds an earlier answer (after
    # Back), with that answer marked, so the merchant sees where they are.
    nxt = route(interview, qid, answers)
    if nxt is None:
        walked, pending = active_path(interview, answers)
        if pending is not None:
            return State(answers=answers, path=path, current=pending, mode="interview")
        return State(answers=answers, path=path, current=None, mode="done")
    return State(answers=answers, path=path, current=nxt, mode="interview")


def choose(interview: Interview, state: State, qid: str, option: str) -> State | None:
    """Answer a one-choice question; None when the choice does not fit the current question."""
    question = interview.questions.get(qid)
    if state.current != qid or question is None or question.kind != "one":
        return None
    if option not in question.options:
        return None
    answers = dict(state.answers)
    answers[qid] = option
    return _advance(interview, state, qid, answers)


def toggle(interview: Interview, state: State, qid: str, option: str) -> State | None:
    """Tick or untick one option of a several-choice question (stays on the question)."""
    question = interview.questions.get(qid)
    if state.current != qid or question is None or question.kind != "many":
        return None
    if option not in question.options:
        return None
    answers = dict(state.answers)
    picked = list(answers.get(qid) or [])
    if option in picked:
        picked.remove(option)
    else:
        picked.append(option)
    # Keep the content's order so the stored answer is stable.
    ordered = [o for o in question.options if o in picked]
    if ordered:
        answers[qid] = ordered
    else:
        answers.pop(qid, None)
    return replace(state, answers=answers)


def confirm(interview: Interview, state: State, qid: str) -> State | None:
    """Finish a several-choice question; None when nothing is ticked yet."""
    question = interview.questions.get(qid)
    if state.current != qid or question is None or question.kind != "many":
        return None
    if not state.answers.get(qid):
        return None
    return _advance(interview, state, qid, dict(state.answers))


def skip(interview: Interview, state: State, qid: str) -> State | None:
    """Skip an optional question."""
    question = interview.questions.get(qid)
    if state.current != qid or question is None or not question.optional:
        return None
    answers = dict(state.answers)
    answers[qid] = None
    return _advance(interview, state, qid, answers)


def back(state: State) -> State | None:
    """Return to the previous question along the path actually taken; None at the start."""
    if not state.path:
        return None
    *rest, previous = state.path
    if state.mode == "edit":
        return State(state.answers, tuple(rest), previous, mode="edit", before=state.before)
    return State(answers=state.answers, path=tuple(rest), current=previous, mode="interview")


def edit(interview: Interview, state: State, qid: str) -> State | None:
    """Open one answered question for change from the profile view."""
    walked, _ = active_path(interview, state.answers)
    if qid not in walked:
        return None
    return State(answers=state.answers, path=(), current=qid, mode="edit", before=state.answers)


def cancel_edit(interview: Interview, state: State) -> State | None:
    """Leave a change of answers with the answers as they were before it; None outside one."""
    if state.mode != "edit":
        return None
    return begin(interview, state.before if state.before is not None else state.answers)


# --- typed answers -------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces: for matching typed text."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(text.split())


VARIATION_SELECTOR = "\ufe0f"  # "ℹ️" and "ℹ" are the same emoji, typed either way


#: :func:`normalise` for option ids and the labels and synonyms content gives them: a
#: finite set of strings, read for every typed answer, so normalised once. (What merchants
#: type goes through :func:`normalise` itself and is not kept.)
_normalised_name = functools.lru_cache(maxsize=16_384)(normalise)


_LIST_SEPARATORS = re.compile(r"[,;/&+]| and | und | et | y | e ", re.IGNORECASE)


def _deflag(text: str) -> str:
    """Flag emoji as their two-letter region codes, each its own list item: 🇩🇪 → ",de,"."""
    out: list[str] = []
    pending = ""
    for ch in text:
        if 0x1F1E6 <= ord(ch) <= 0x1F1FF:
            pending += chr(ord(ch) - 0x1F1E6 + ord("a"))
            if len(pending) == 2:
                out.append(f",{pending},")
                pending = ""
        else:
            out.append(ch)
    return "".join(out)


def match_parts(
    question: Question,
    typed: str,
    labels: Mapping[str, Sequence[str]],
    negations: Collection[str] = (),
) -> tuple[list[str], list[str]]:
    """Options a merchant meant by typing, and the parts of a list that named nothing.

    A one-choice question yields exactly one option or none; a several-choice question
    takes a list ("UK, Germany", "UK and Germany", "🇬🇧 🇩🇪"). Each part is matched exactly
    first ("woo", "uk", a flag's region code); failing that, option names are looked for as
    whole words inside it ("I use Shopify", "we sell in the UK"), longest name first. That
    second, looser reading never guesses: it is refused when the text names two options of
    a one-choice question or contains a negation ("not on Shopify"). Option ids count only
    as exact answers ("it" is Italy alone, not inside a sentence).
    """
    names = {
        option: {_normalised_name(n) for n in labels.get(option, ())} - {""}
        for option in question.options
    }
    pieces = [typed] if question.kind == "one" else _LIST_SEPARATORS.split(_deflag(typed))
    found: list[str] = []
    unknown: list[str] = []
    for piece in pieces:
        wanted = normalise(piece)
        if not wanted:
            continue
        exact = _exact(question, names, wanted)
        # "US UK": names one after another, each an exact answer (ids count only so).
        each = (
            [_exact(question, names, word) for word in wanted.split()]
            if exact is None and question.kind == "many"
            else []
        )
        if len(each) > 1 and all(each):
            hits = [o for o in question.options if o in each]
        else:
            hits = [exact] if exact is not None else _mentioned(wanted, names, negations)
        if not hits and (fixed := _typos_fixed(wanted, names)) != wanted:
            # "shopfiy", "Untied Kingdom": read again with the names' own spelling.
            named = [o for o in question.options if fixed in names[o]]
            hits = named[:1] or _mentioned(fixed, names, negations)
        if not hits:
            unknown.append(" ".join(piece.split()))
        found.extend(hit for hit in hits if hit not in found)
    if question.kind == "one" and not found and question.numbers:
        by_number = _by_number(question, typed)
        if by_number is not None:
            return [by_number], []
    if question.kind == "one" and (len(found) != 1 or unknown):
        return [], unknown
    return [o for o in question.options if o in found], unknown


def _exact(question: Question, names: Mapping[str, set[str]], said: str) -> str | None:
    """The option ``said`` (normalised) is exactly: its id or one of its names."""
    return next(
        (o for o in question.options if said == _normalised_name(o) or said in names[o]), None
    )


#: Shortest word a typo is corrected in: shorter ones are too often other real words.
TYPO_MIN = 5


def _one_typo(typed: str, word: str) -> bool:
    """``typed`` is ``word`` with one letter dropped, one added or two neighbours swapped.

    A letter replaced by another does not count: "iceland" is not a typo of "ireland".
    """
    if typed == word or abs(len(typed) - len(word)) > 1:
        return False
    at = next((i for i, (a, b) in enumerate(zip(typed, word, strict=False)) if a != b), None)
    if at is None:  # one is the other with a letter more at the end
        return True
    if len(typed) == len(word):
        return typed[at : at + 2] == word[at : at + 2][::-1] and typed[at + 2 :] == word[at + 2 :]
    shorter, longer = sorted((typed, word), key=len)
    return shorter[at:] == longer[at + 1 :]


def _typos_fixed(said: str, names: Mapping[str, set[str]]) -> str:
    """``said`` (normalised) with each word that is one typo away from exactly one word of
    the options' names written as that word; other words as they were."""
    vocabulary = {
        w for each in names.values() for n in each for w in n.split() if len(w) >= TYPO_MIN
    }
    words = said.split()
    for i, word in enumerate(words):
        if len(word) < TYPO_MIN or word in vocabulary:
            continue
        close = [known for known in vocabulary if _one_typo(word, known)]
        if len(close) == 1:
            words[i] = close[0]
    return " ".join(words)


#: A count as merchants type it: "300", "1,200", "1.200" (German), "1.5k", "1,5k", "~2k".
_COUNT = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:([.,])\d{3})(?:\2\d{3})*|\d+(?:[.,]\d+)?)\s*(k)?(?![\w.,]*\d)", re.I
)
#: Thousands grouped with one separator: "1,200", "1.200", "12.000.000".
_GROUPED = re.compile(r"\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*")


def _count(number: str, thousands: bool) -> float:
    """A typed count's value. Products come whole, so "1.200" and "1,200" are grouped
    thousands in every language; before "k" a separator is a decimal point ("1,5k")."""
    if not thousands and _GROUPED.fullmatch(number):
        return float(re.sub(r"[.,]", "", number))
    return float(number.replace(",", ".")) * (1000 if thousands else 1)


def _by_number(question: Question, typed: str) -> str | None:
    """The option whose range holds every count in the text, if exactly one does."""
    picked: set[str] = set()
    for match in _COUNT.finditer(typed[:TYPED_MAX]):
        value = _count(match.group(1), thousands=bool(match.group(3)))
        hits = [
            option
            for option, (low, high) in question.numbers.items()
            if low <= value and (high is None or value <= high)
        ]
        if len(hits) != 1:
            return None
        picked.update(hits)
    return picked.pop() if len(picked) == 1 else None


def match_options(
    question: Question,
    typed: str,
    labels: Mapping[str, Sequence[str]],
    negations: Collection[str] = (),
) -> list[str]:
    """Options a merchant meant by typing (see :func:`match_parts`); every part of a list
    must name something, and unrecognised text yields an empty list."""
    found, unknown = match_parts(question, typed, labels, negations)
    return [] if unknown else found


def _mentioned(text: str, names: Mapping[str, set[str]], negations: Collection[str]) -> list[str]:
    """Options whose names occur as whole words in ``text`` (normalised), longest first.

    A negation word outside every name found ("not", "except") refuses the guess; one
    inside a name ("no web store") is part of that name. A name that is itself a negation
    word ("no") only ever counts as an exact answer.
    """
    padded = f" {text} "
    taken: list[tuple[int, int]] = []
    hits: list[str] = []
    candidates = sorted(
        (
            (name, option)
            for option, option_names in names.items()
            for name in option_names
            if name not in negations
        ),
        key=lambda item: -len(item[0]),
    )
    for name, option in candidates:
        start = padded.find(f" {name} ")
        while start != -1:
            span = (start + 1, start + 1 + len(name))
            if not any(a < span[1] and span[0] < b for a, b in taken):
                taken.append(span)
                if option not in hits:
                    hits.append(option)
                break
            start = padded.find(f" {name} ", start + 1)
    for word in re.finditer(r"\S+", padded):
        inside = any(a <= word.start() and word.end() <= b for a, b in taken)
        if word.group() in negations and not inside:
            return []
    return hits


@dataclass(frozen=True)
class TextProblem:
    """Why typed text was refused: a key for the template and values for it."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


#: Invisible format characters kept in typed text: they join emoji (ZWJ) and letters of
#: some scripts (ZWNJ), or mark direction without needing to be closed (LRM, RLM).
_KEPT_FORMAT = frozenset("\u200c\u200d\u200e\u200f")


def _visible(typed: str) -> str:
    """``typed`` without control characters (NUL, ESC) and invisible format characters
    (zero-width spaces, byte-order marks, direction overrides that would turn the bot's own
    text around them), except those in ``_KEPT_FORMAT``."""
    return "".join(
        ch
        for ch in typed
        if ch in _KEPT_FORMAT or ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf")
    )


def validate_text(question: Question, typed: str) -> str | TextProblem:
    """Clean a free-text answer, or say what is wrong with it."""
    value = " ".join(_visible(typed).split())
    if not value.strip("".join(_KEPT_FORMAT)):
        return TextProblem("empty")
    if len(value) > question.max_length:
        return TextProblem("too_long", {"max": question.max_length})
    if question.pattern and not re.fullmatch(question.pattern, value):
        return TextProblem("pattern")
    return value


#: A day and a month in digits (and a year): 01/02/2027, 1.2.27, 01/02 (with dots: day first).
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})\s*[./-]\s*(\d{1,2})(?:\s*[./-]\s*(\d{2}|\d{4}))?\s*$")
#: Digits with a dot between them: a date written day first ("01.03.2027", "15.03.").
_DOTTED = re.compile(r"\d\s*\.\s*\d")
#: The same once normalised (punctuation became spaces): "by 01/02/2027" → "01 02 2027".
_NUMERIC_SAID = re.compile(r"^(\d{1,2}) (\d{1,2})(?: (\d{2}|\d{4}))?$")
#: A named period with an optional year after it: "q1 2027", "christmas".
_WITH_YEAR = re.compile(r"^(.+?)(?: (\d{4}))?$")
#: Year-first numeric dates (2027-03-31, 2027-3-4): never ambiguous, read without dateparser.
_YEAR_FIRST_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
#: A month and a year in numbers either way round (2027-03, 03/2027): dateparser reads a
#: month past 12 as a day of this month ("2027-13" became 13 November 2027).
_NUMERIC_MONTH = re.compile(r"^(?:(\d{4})[-/.](\d{1,2})|(\d{1,2})[-/.](\d{4}))$")


@dataclass(frozen=True)
class AmbiguousDate:
    """A numeric date that reads both ways (01/02/2027): the merchant is asked which."""

    day_first: date
    month_first: date


@dataclass(frozen=True)
class ImpossibleDate:
    """A day past its month's end ("31.02.2027"): the merchant is told the month's last day."""

    month_ends: date


@dataclass(frozen=True)
class DateWords:
    """How merchants say dates beyond what the parser reads (``typed_dates.*``, normalised).

    ``today``: "asap"; ``start`` / ``middle`` / ``end``: "early", "mid", "end of" before a
    month, quarter or year; ``rewrite``: phrases replaced before parsing ("within" → "in",
    "by" → ""); ``quarters`` and ``days``: "Q1 2027", "before Christmas".
    """

    today: frozenset[str] = frozenset()
    start: tuple[str, ...] = ()
    middle: tuple[str, ...] = ()
    end: tuple[str, ...] = ()
    rewrite: tuple[tuple[str, str], ...] = ()
    #: "q1", "first quarter" → 1: the quarter's first day, its middle or its last day.
    quarters: tuple[tuple[str, int], ...] = ()
    #: "christmas" → (12, 25): days merchants name instead of a date (the next one).
    days: tuple[tuple[str, tuple[int, int]], ...] = ()
    #: "kw", "week": said before an ISO calendar week's number ("KW 12": its Monday).
    weeks: frozenset[str] = frozenset()


#: The clock time relative dates are counted from: a parsed date carrying it was relative
#: ("in 3 months": keep the day), one at midnight named its month ("March": the 1st).
_BASE_TIME = time(12, 34, 56)
Position = Literal["start", "middle", "end"] | None


def _parse_with(
    text: str, today: date, prefer: str, languages: Sequence[str], position: Position = None
) -> date | None:
    from dateparser.date import DateDataParser  # a large import: only when a date is typed

    settings: dict[str, Any] = {
        "PREFER_DATES_FROM": prefer,
        "RELATIVE_BASE": datetime.combine(today, _BASE_TIME),
        "DATE_ORDER": "DMY",
        "PREFER_DAY_OF_MONTH": "current",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    try:
        data = DateDataParser(languages=list(languages), settings=settings).get_date_data(text)
    except (ValueError, OverflowError, TypeError):
        return None
    found: datetime | None = data.date_obj
    if found is None:
        return None
    day: date = found.date()
    named = position is not None or found.time() != _BASE_TIME
    if data.period == "month" and named:
        last = calendar.monthrange(day.year, day.month)[1]  # no date arithmetic: 9999-12
        day = day.replace(day={"end": last, "middle": 15}.get(position or "start", 1))
    elif data.period == "year" and named:
        ends = {"end": date(day.year, 12, 31), "middle": date(day.year, 7, 1)}
        day = ends.get(position or "start", date(day.year, 1, 1))
    return day


def _as_said(text: str, words: DateWords) -> tuple[str | None, Position]:
    """The text to parse once the merchant's own phrasing is read, and where in the period.

    None when nothing was rewritten (the typed text is parsed as it is).
    """
    said = normalise(text)
    changed = False
    for phrase, replacement in words.rewrite:
        new = " ".join(re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", replacement, said).split())
        changed = changed or new != said
        said = new
    for position, phrases in (
        ("end", words.end),
        ("middle", words.middle),
        ("start", words.start),
    ):
        for phrase in sorted(phrases, key=len, reverse=True):
            if said.startswith(f"{phrase} "):
                return said[len(phrase) + 1 :], position  # type: ignore[return-value]
    return (said if changed else None), None


def parse_date(
    typed: str,
    today: date,
    languages: Sequence[str] = ("en",),
    words: DateWords | None = None,
) -> date | AmbiguousDate | ImpossibleDate | None:
    """Understand a typed date with a maintained parser (dateparser).

    Takes "2027-03-31", "31.03.2027", "03/15/2027", "31 Dec 2026", "15 Jan", "March 2027",
    "tomorrow", "next friday", "in 3 weeks", and with ``words`` "asap", "end of March",
    "mid April", "by early 2027". A year left out means the next such date from today; a
    month alone means its first day. A numeric day and month that could be either way
    round ("01/02/2027") is :class:`AmbiguousDate`, never a silent guess (with dots,
    "01.02.2027", it is day first); a day past its month's end ("31.02.2027") is
    :class:`ImpossibleDate`; a bare number ("5", "2027") is not a date.
    """
    text = " ".join(typed.split())[:100]
    if not text or text.isdigit():
        return None
    words = words or DateWords()
    if normalise(text) in words.today:
        return today
    # Read directly, not by dateparser: it means the same by them (tests/test_interview.py)
    # and costs milliseconds of CPU per call (it compiles regexes), ~15 % of the bot's CPU in
    # bench_interview where one answer in ten is such a date (py-spy, issue 20). An impossible
    # one (2027-02-30) still goes to dateparser, as before.
    year_first = _YEAR_FIRST_DATE.match(text)
    if year_first is not None:
        y, m, d = (int(part) for part in year_first.groups())
        try:
            return date(y, m, d)
        except ValueError:
            pass
    month_year = _NUMERIC_MONTH.match(text)
    if month_year is not None and not 1 <= int(month_year[2] or month_year[3]) <= 12:
        return None
    # Day and month with dots ("01.03.2027", "15.03."): day first, as everywhere dots are
    # written; never asked back, and never a time of day (dateparser read "15.03" as 15:03).
    dotted = _DOTTED.search(text) is not None and "/" not in text
    numeric = _NUMERIC_DATE.match(text.rstrip("."))
    if numeric is not None and (found_numeric := _numeric(numeric, today, dotted)) is not None:
        return found_numeric
    rewritten, position = _as_said(text, words)
    if rewritten is not None:
        if not rewritten or (rewritten.isdigit() and position is None):
            return None
        text = rewritten
        # "by 01/02/2027": the filler words gone, the same either-way-round question.
        numeric = _NUMERIC_SAID.match(text)
        if numeric is not None and (found_numeric := _numeric(numeric, today, dotted)) is not None:
            return found_numeric
    said = normalise(text)
    named = _named_period(said, today, words, position)
    if named is not None:
        return named
    week = _week(said, today, words, position)
    if week is not None:
        return week if isinstance(week, date) else None
    found = _parse_with(text, today, "current_period", languages, position)
    if found is not None and found >= today:
        return found
    found = _parse_with(text, today, "future", languages, position)
    return found if found is not None else _past_month_end(text, today, languages)


#: A day with a month in words around it: "31. April 2027", "February 30th, 2027".
_DAY_FIRST = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\.? +(\D+?)(?: +(\d{4}))?$", re.IGNORECASE)
_MONTH_FIRST = re.compile(r"^(\D+?) +(\d{1,2})(?:st|nd|rd|th)?,?(?: +(\d{4}))?$", re.IGNORECASE)


def _past_month_end(text: str, today: date, languages: Sequence[str]) -> ImpossibleDate | None:
    """A date that failed to parse because its day is past its month's last day (only the
    29th to the 31st can be), in digits or with the month in words; else None."""
    found = _YEAR_FIRST_DATE.match(text)
    if found is not None:
        year, month, day = int(found[1]), int(found[2]), int(found[3])
        return _month_end(year, month) if 1 <= month <= 12 and day > 28 else None
    found = _NUMERIC_DATE.match(text.rstrip("."))  # "30.2." as German dates end
    if found is not None:
        a, b, year_text = int(found[1]), int(found[2]), found[3]
        day, month = (a, b) if b <= 12 else (b, a)  # 31/04 day first; 04/31 month first
        if not (29 <= day <= 31 and 1 <= month <= 12):
            return None
        if year_text:
            return _month_end(int(year_text) + (2000 if len(year_text) == 2 else 0), month)
        return _month_end(_next_year_with(month, today), month)
    for pattern, day_group, month_group in ((_DAY_FIRST, 1, 2), (_MONTH_FIRST, 2, 1)):
        found = pattern.match(text)
        if found is None or not 29 <= int(found[day_group]) <= 31:
            continue
        year_text = found[3]
        # The month by the parser, in the merchant's words: its first day, that year.
        first = _parse_with(
            f"1 {found[month_group]} {year_text or ''}".strip(), today, "future", languages
        )
        if first is None:
            return None
        year = int(year_text) if year_text else _next_year_with(first.month, today)
        return _month_end(year, first.month)
    return None


def _next_year_with(month: int, today: date) -> int:
    """The year of the next such month from today (this one if it has not ended)."""
    return today.year if month >= today.month else today.year + 1


def _month_end(year: int, month: int) -> ImpossibleDate | None:
    if not 1 <= year <= 9999:
        return None
    return ImpossibleDate(date(year, month, calendar.monthrange(year, month)[1]))


def _numeric(found: re.Match[str], today: date, dotted: bool) -> date | AmbiguousDate | None:
    """A day and a month in digits: the date, or both readings when either could be meant
    (``dotted``: day first, never asked; ``None``: leave it to the parser)."""
    a, b = int(found.group(1)), int(found.group(2))
    year = found.group(3)
    if dotted and b <= 12:
        return _on(a, b, year, today)
    if a <= 12 and b <= 12 and a != b:
        day_first, month_first = _on(a, b, year, today), _on(b, a, year, today)
        if day_first is not None and month_first is not None:
            return AmbiguousDate(day_first, month_first)
    elif b > 12 >= a:  # 03/15/2027: only month first makes sense
        return _on(b, a, year, today)
    elif a > 12 >= b:  # 15/03: only day first makes sense
        return _on(a, b, year, today)
    return None


def _named_period(said: str, today: date, words: DateWords, position: Position) -> date | None:
    """A quarter ("q1 2027", "end of the first quarter") or a named day ("christmas"),
    normalised text, with an optional year after it; the next one from today without."""
    found = _WITH_YEAR.match(said)
    if found is None:
        return None
    name, year_text = found.group(1), found.group(2)
    year = int(year_text) if year_text else None
    for phrase, quarter in words.quarters:
        if name != phrase:
            continue
        first = 3 * quarter - 2
        month = first + {"middle": 1, "end": 2}.get(position or "start", 0)
        for each in (year,) if year is not None else (today.year, today.year + 1):
            after = date(each + month // 12, month % 12 + 1, 1)  # the month after
            last = after - timedelta(days=1)
            day = {"middle": 15, "end": last.day}.get(position or "start", 1)
            if year is not None or after > today:
                return date(each, month, day)
    for phrase, (month, day) in words.days:
        if name == phrase:
            return _on(day, month, str(year) if year else None, today)
    return None


_WEEK = re.compile(r"^(\D+?) ?(\d{1,2})(?: (\d{4}))?$")


def _week(said: str, today: date, words: DateWords, position: Position) -> date | bool | None:
    """An ISO calendar week ("kw 12", "week 12 2027"; normalised text): its Monday ("end":
    its Sunday, "middle": its Thursday; today within the current week), the next such week
    from today without a year. False: a week named that does not exist ("kw 54"); None: no
    week named."""
    found = _WEEK.match(said)
    if found is None or found.group(1) not in words.weeks:
        return None
    number, year = int(found.group(2)), found.group(3)
    weekday = {"middle": 4, "end": 7}.get(position or "start", 1)
    this_year = today.isocalendar().year
    for each in (int(year),) if year else (this_year, this_year + 1):
        try:
            day, last = (
                date.fromisocalendar(each, number, weekday),
                date.fromisocalendar(each, number, 7),
            )
        except ValueError:  # week 0, 54, or 53 in a year of 52
            continue
        if year or last >= today:
            return max(day, today) if last >= today else day
    return False


def _on(day: int, month: int, year: str | None, today: date) -> date | None:
    """The date with this day and month (a missing year: the next one from today)."""
    try:
        if year is not None:
            return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        found = date(today.year, month, day)
        return found if found >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def validate_date(
    question: Question,
    typed: str,
    today: date,
    languages: Sequence[str] = ("en",),
    words: DateWords | None = None,
) -> str | TextProblem:
    """A go-live style date: understood, not ambiguous, not in the past, not too far away."""
    parsed = parse_date(typed, today, languages, words)
    if parsed is None:
        return TextProblem("date_unclear")
    if isinstance(parsed, ImpossibleDate):
        shown = " ".join(typed.split())[:20]
        return TextProblem("date_impossible", {"typed": shown, "date": parsed.month_ends})
    if isinstance(parsed, AmbiguousDate):
        return TextProblem(
            "date_ambiguous",
            {
                "typed": " ".join(typed.split())[:20],
                "day_first": parsed.day_first,
                "month_first": parsed.month_first,
            },
        )
    if parsed < today + timedelta(days=question.min_days_ahead):
        return TextProblem("date_past", {"date": parsed})
    if parsed > today + timedelta(days=question.max_days_ahead):
        return TextProblem("date_far", {"date": parsed})
    return parsed.isoformat()


def answer_text(interview: Interview, state: State, qid: str, value: str) -> State | None:
    """Store an already validated text/date answer for the current question."""
    question = interview.questions.get(qid)
    if state.current != qid or question is None or question.kind not in ("text", "date"):
        return None
    answers = dict(state.answers)
    answers[qid] = value
    return _advance(interview, state, qid, answers)


# --- reading what a merchant typed at a question -------------------------------------------


@dataclass(frozen=True)
class TypedWords:
    """Words with a meaning of their own, per locale (normalised): see content/README.md."""

    negations: frozenset[str]  # a loosely typed answer holding one of these is not guessed
    back: frozenset[str]  # typed instead of pressing « Back
    skip: frozenset[str]  # typed instead of pressing Skip (optional questions)
    done: frozenset[str] = frozenset()  # typed on a step instead of pressing Done
    next: frozenset[str] = frozenset()  # typed instead of pressing Next step
    cancel: frozenset[str] = frozenset()  # typed instead of Cancel while changing an answer
    understood: frozenset[str] = frozenset()  # acknowledges a blocker or background step
    undo: frozenset[str] = frozenset()  # takes back the step marked last
    details: frozenset[str] = frozenset()  # a step's details and sources
    #: A command's name typed without the slash ("plan", "my answers"), by command.
    commands: tuple[tuple[str, frozenset[str]], ...] = ()
    regions: frozenset[str] = frozenset()  # several markets at once ("Europe"): asked back
    every: frozenset[str] = frozenset()  # "all of them": a question's ``all`` options
    delete_yes: frozenset[str] = frozenset()  # typed at "delete everything?": asked to tap
    delete_no: frozenset[str] = frozenset()  # typed at "delete everything?": nothing erased
    #: A button's emoji sent alone ("✅") and the button's label it stands for (normalised).
    symbols: tuple[tuple[str, str], ...] = ()

    def command(self, said: str) -> str | None:
        """The command ``said`` (normalised) names, if any."""
        return next((name for name, names in self.commands if said in names), None)

    def said(self, typed: str) -> str:
        """``typed`` normalised; a button's emoji alone ("✅") reads as that button's label."""
        said = normalise(typed[:100])
        if said or not typed.strip():
            return said
        symbol = typed.strip().replace(VARIATION_SELECTOR, "")
        return next((label for each, label in self.symbols if each == symbol), "")

    dates: DateWords = field(default_factory=DateWords)  # "asap", "end of March"


@dataclass(frozen=True)
class Moved:
    """The typed text answered (or navigated): the interview's new state.

    ``note`` is set when only part of it was understood (ticks added, the rest named).
    """

    state: State
    note: TextProblem | None = None


@dataclass(frozen=True)
class Refused:
    """The typed text was understood as an answer but refused; ask again, saying why."""

    problem: TextProblem


@dataclass(frozen=True)
class NotUnderstood:
    """Nothing in the typed text answers the question: hint at the buttons."""


@dataclass(frozen=True)
class CancelChange:
    """Typed Cancel (or Back on the question being changed) while changing an answer."""


Reading = Moved | Refused | NotUnderstood | CancelChange

#: Longest typed text looked at (a question's answer is short; the rest is noise).
TYPED_MAX = 500

#: The problem key for a region typed where its countries are asked for (a full strings key).
REGION = "typed_notices.region"

#: :func:`reading_rank` of a reading that understood all of the typed text.
UNDERSTOOD_ALL = (3, 0)


def reading_rank(reading: Reading) -> tuple[int, int]:
    """How much of the typed text a reading understood, to compare readings in different
    languages: all of it; a list with some names unknown (fewer is more) or a date read but
    refused (in the past); nothing."""
    match reading:
        case Moved(note=None) | CancelChange():
            return UNDERSTOOD_ALL
        case Moved(note=note) if note is not None:
            return (2, -len(note.values.get("names", ())))
        case Refused(problem=problem) if problem.key != "date_unclear":
            return (1, 0)
    return (0, 0)


def _by_place(
    interview: Interview,
    state: State,
    places: tuple[str, str, str],
    typed: str,
    place_labels: Mapping[str, Sequence[str]],
    words: TypedWords,
) -> list[str]:
    """The option a typed place means (see :attr:`Question.places`), or none."""
    where, inside, outside = places
    named, unknown = match_parts(
        interview.question(where), typed[:TYPED_MAX], place_labels, words.negations
    )
    answered = state.answers.get(where)
    mine = set(answered) if isinstance(answered, list) else {answered}
    if not named or unknown:
        return []
    if set(named) <= mine:
        return [inside]
    return [outside] if not set(named) & mine else []


def read_typed(
    interview: Interview,
    state: State,
    typed: str,
    *,
    words: TypedWords,
    labels: Mapping[str, Sequence[str]],
    today: date,
    languages: Sequence[str] = ("en",),
    place_labels: Mapping[str, Sequence[str]] | None = None,
) -> Reading:
    """What a merchant's typed text does at the current question (``state.current``).

    "back" goes back, "skip" skips an optional question, text and date questions validate
    the text, choice questions match option labels and synonyms (``labels``, by option id)
    and never guess. Nothing here changes ``state``: the result says what the new one is.
    """
    assert state.current is not None
    question = interview.question(state.current)
    said = normalise(typed[:100])
    new: State | None
    if state.mode == "edit" and (said in words.cancel or (said in words.back and not state.path)):
        return CancelChange()
    if said in words.back:
        new = back(state)
        if new is None and state.mode == "interview":  # first question: say so
            return Refused(TextProblem("first_question"))
    elif said in words.skip and question.optional:
        new = skip(interview, state, question.id)
    elif question.kind in ("text", "date"):
        result = (
            validate_text(question, typed)
            if question.kind == "text"
            else validate_date(question, typed, today, languages, words.dates)
        )
        if isinstance(result, TextProblem):
            return Refused(result)
        new = answer_text(interview, state, question.id, result)
    elif question.kind == "many" and said in words.done:  # "done", as the Done button says
        new = confirm(interview, state, question.id)
        if new is None:
            return Refused(TextProblem("none_ticked"))
    elif question.kind == "many" and question.everything and said in words.every:
        ticked = replace(state, answers={**state.answers, question.id: list(question.everything)})
        new = confirm(interview, ticked, question.id)
    else:
        picked, unknown = match_parts(question, typed[:TYPED_MAX], labels, words.negations)
        if not picked and question.places is not None and place_labels is not None:
            picked = _by_place(interview, state, question.places, typed, place_labels, words)
        regions = (
            question.kind == "many"
            and unknown
            and all(normalise(name) in words.regions for name in unknown)
        )
        region = TextProblem(REGION, {"names": unknown}) if regions else None
        if not picked and region is not None:
            return Refused(region)  # "Europe": which of its countries?
        if not picked:
            return NotUnderstood()
        if question.kind == "one":
            new = choose(interview, state, question.id, picked[0])
        else:
            # Typing adds to what is ticked already; a list that named something unknown
            # ticks the known part and stays, naming the rest ("uk, germany, narnia").
            before = state.answers.get(question.id)
            had = set(before) if isinstance(before, list) else set()
            both = [o for o in question.options if o in had or o in picked]
            ticked = replace(state, answers={**state.answers, question.id: both})
            if unknown:
                return Moved(ticked, region or TextProblem("unknown_options", {"names": unknown}))
            new = confirm(interview, ticked, question.id)
    return NotUnderstood() if new is None else Moved(new)
