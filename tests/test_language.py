"""Issue #18 machinery: choosing the language, per-language bot profile, Babel formatting,
typed facts, and reminders rendered in the language chosen at send time."""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import sync_bot_profile
from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.config import Settings
from bot.content import cli
from bot.content.loader import Content, load_content, normalise_language
from bot.content.render import Renderer
from bot.content.translations import warnings
from bot.content.values import choose_plural, format_day, format_money, parse_value
from bot.context import BotApp
from bot.domain.interview import Answer
from bot.storage.db import Database
from bot.storage.models import Merchant, Mode, Outbox
from bot.views.screens import Views
from tests.conftest import NOW, Clock, make_settings

DEADLINE = NOW + timedelta(days=10)  # 2026-12-07 12:00 UTC


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, deadline=DEADLINE)


def spaced(text: str) -> str:
    """Babel's no-break spaces (0,50\xa0£, 9\u202f%) as plain spaces, for reading."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


async def merchant(db: Database, merchant_id: int) -> Merchant:
    async with db.session() as session:
        found = await session.get(Merchant, merchant_id)
        assert found is not None
        return found


def test_language_codes_normalise_region_then_language_then_english() -> None:
    shipped = {"en", "de", "pt-BR", "pt"}
    assert normalise_language("de-AT", shipped) == "de"
    assert normalise_language("de", shipped) == "de"
    assert normalise_language("pt-br", shipped) == "pt-BR"
    assert normalise_language("pt_BR", shipped) == "pt-BR"
    assert normalise_language("pt-PT", shipped) == "pt"
    assert normalise_language("pt-br", {"en", "pt"}) == "pt"
    for unknown in ("xx", "sw", "", None, "x" * 40):
        assert normalise_language(unknown, shipped) == "en"


def test_babel_formats_dates_money_and_plurals_per_language() -> None:
    assert format_day(date(2027, 1, 15), "de") == "15. Januar 2027"
    assert format_day(date(2027, 1, 15), "en") == "15 January 2027"
    assert spaced(format_money(Decimal("0.50"), "GBP", "de")) == "0,50 £"
    assert format_money(Decimal("1500"), "USD", "en") == "$1,500"
    assert choose_plural(1, "de", ("Tag", "Tage"), {}) == "Tag"
    assert choose_plural(3, "de", ("Tag", "Tage"), {}) == "Tage"
    # Polish has one / few / many / other: three forms in the language's own order.
    forms = ("dzień", "dni", "dni", "dnia")
    assert choose_plural(1, "pl", forms, {}) == "dzień"
    assert choose_plural(3, "pl", forms, {}) == "dni"
    assert choose_plural(2, "ru", (), {"one": "день", "few": "дня", "other": "дней"}) == "дня"


def test_typed_facts_render_per_language(content: Content) -> None:
    assert content.facts["markets"]["de"]["launch"] == "31 March 2025"
    assert content.facts["fees"]["uk"]["self_shipped_fee"] == "£0.50"
    assert content.facts["markets"]["es"]["shops_after_one_year"] == "more than 12,000"
    german = content.facts_in("de")
    assert german["markets"]["de"]["launch"] == "31. März 2025"
    assert german["markets"]["de"]["onboarding_from"] == "Februar 2025"
    assert spaced(german["fees"]["uk"]["commission"]) == "9 %"
    assert spaced(german["fees"]["uk"]["self_shipped_fee"]) == "0,50 £"
    assert spaced(german["fees"]["us"]["at_launch"]) == "2 % + 0,30 $"
    assert spaced(german["markets"]["es"]["shops_after_one_year"]) == "mehr als 12.000"
    assert german["returns"]["uk_statutory"] == "14 Tage"
    assert german["probation"]["us"]["pro"] == "keine Obergrenze"
    assert spaced(german["connectors"]["pipe17_markets"]) == "USA und Vereinigtes Königreich"
    assert german["storefront"]["announced"] == "23.–24. August 2023"
    # A template of any language reads the same fact in its own language.
    renderer = Renderer(content)
    source = "{{ facts.fees.eu.commission }} ab {{ facts.fees.eu.commission_from }}"
    assert spaced(renderer.render_source(source, "t:de", lang="de")) == "9 % ab 8. Januar 2026"
    assert renderer.render_source(source, "t:de", lang="en-GB") == "9% ab 8 January 2026"


def test_flags_read_in_the_merchants_language(content: Content) -> None:
    step = content.step_index["what-carries-over"]
    shopify_us: dict[str, Answer] = {"platform": "shopify", "market": ["us"]}  # every flag applies
    german = content.step_flags("de", step, shopify_us)
    assert german[0].kind == step.flags[0].kind
    assert german[0].text.startswith("Dass Verkäufe bei TikTok Shop kein TikTok Pixel brauchen")
    assert len(german) == len(step.flags)
    assert content.step_flags("en", step, shopify_us) == step.flags
    # A flag whose `when` the answers do not match is left out, in every language.
    square_uk: dict[str, Answer] = {"platform": "square", "market": ["uk"]}
    assert len(content.step_flags("de", step, square_uk)) == len(step.flags) - 1


def test_untyped_english_text_is_told_apart_from_names() -> None:
    assert parse_value("list 5 products within 15 days").english_only
    assert not parse_value("Wolverhampton").english_only
    assert not parse_value("seller-us.tiktok.com").english_only
    assert not parse_value({"en": "no cap", "de": "keine Obergrenze"}).english_only


async def test_language_picker_switches_on_the_next_message_without_losing_answers(
    app: BotApp, fake: FakeTelegram, db: Database
) -> None:
    ann = SimulatedUser(app, fake, user_id=2001, language_code="en")
    await ann.send("/start")
    await ann.press("Shopify")  # mid-interview: the market question is on screen
    picker = (await ann.send("/language"))[-1]
    assert "Deutsch" in picker.button_labels and any("English" in b for b in picker.button_labels)
    await ann.press("Deutsch")
    assert "Ab jetzt schreibe ich dir auf Deutsch." in ann.last_text()
    saved = await merchant(db, 2001)
    assert saved.locale == "de" and saved.answers.get("platform") == "shopify"
    assert saved.current == "market"
    # The next message is German; the interview goes on where it was.
    again = (await ann.send("/language"))[-1]
    assert "In welcher Sprache soll ich dir schreiben?" in (again.text or "")
    # Typed names work at the picker, in either language.
    await ann.send("Englisch")
    assert "From now on I will write in English." in ann.last_text()
    assert (await merchant(db, 2001)).locale == "en"
    await ann.send("/language deutsch")
    assert (await merchant(db, 2001)).locale == "de"
    await ann.send("/language english")
    resumed = (await ann.send("/start"))[-1]
    assert "Which markets do you sell to?" in (resumed.text or "")


async def test_unsupported_language_codes_get_english(app: BotApp, fake: FakeTelegram) -> None:
    for uid, code in ((2101, "xx"), (2102, "sw")):
        visitor = SimulatedUser(app, fake, user_id=uid, language_code=code)
        question = (await visitor.send("/start"))[-1]
        assert "Which platform" in (question.text or "")


async def test_menu_and_profile_texts_are_set_per_language_only_when_changed(
    app: BotApp, fake: FakeTelegram
) -> None:
    content = app.bot_data.content
    changed = await sync_bot_profile(app.bot, content)  # what post_init starts, awaited
    assert {"commands:en", "commands:de", "description:de", "short_description:en"} <= set(changed)
    assert "default:" in fake.commands and "default:de" in fake.commands
    german = {c["command"]: c["description"] for c in fake.commands["default:de"]}
    assert german["language"] == "Sprache wählen, in der ich schreibe"
    assert fake.descriptions["de"].startswith("TikTok Storefront wurde abgeschaltet.")
    assert fake.short_descriptions[""].startswith("Your step-by-step plan")
    # A second start finds everything as it should be: no set* call at all.
    before = len(fake.calls)
    assert await sync_bot_profile(app.bot, content) == []
    assert not any(c.method.startswith("set") for c in fake.calls[before:])


@pytest.mark.slow
async def test_queued_reminder_renders_in_the_language_chosen_after_it_was_queued(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    ann = SimulatedUser(app, fake, user_id=1001, language_code="en")
    await ann.send("/start")
    async with db.session() as session:
        found = await session.get(Merchant, 1001)
        assert found is not None
        found.answers = {"platform": "shopify", "market": ["uk"], "go_live": "2026-12-20"}
        found.path, found.current, found.mode = [], None, Mode.DONE
    await ann.send("/alerts")
    await ann.press("🔔 Turn alerts on")
    async with db.session() as session:
        pending = list((await session.exec(select(Outbox))).all())
    assert pending  # queued while the merchant read English
    await ann.send("/language Deutsch")
    clock.now = min(r.due_at for r in pending)
    service = app.bot_data.alerts
    assert service is not None and service.dispatcher is not None
    mark = ann.mark()
    assert await service.dispatcher.drain() >= 1
    text = "\n".join(m.text or "" for m in ann.replies_since(mark))
    assert "7. Dezember 2026" in text and "7 December 2026" not in text


def _translate_what_changed(tree: Path, *, english_version: int, german_version: int) -> None:
    english = tree / "guidance" / "what-changed.md"
    text = english.read_text(encoding="utf-8")
    english.write_text(
        text.replace("version: 1\n", f"version: {english_version}\n", 1), encoding="utf-8"
    )
    folder = tree / "locales" / "de" / "guidance"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "what-changed.md").write_text(
        f"---\nid: what-changed\nversion: {german_version}\n"
        "title: Von TikTok Storefront zu TikTok Shop\n---\n"
        "TikTok hat Storefront am {{ deadline.date }} abgeschaltet.\n",
        encoding="utf-8",
    )


def test_outdated_translation_shows_the_english_body_with_a_note(small_tree: Path) -> None:
    _translate_what_changed(small_tree, english_version=2, german_version=1)
    content = load_content(small_tree)
    views = Views(content, Renderer(content))
    step = content.step_index["what-changed"]
    body = views.step_body("de", step, {}, details=False, now=NOW, deadline=DEADLINE)
    assert body.startswith("<i>Diese Anleitung wurde noch nicht übersetzt")
    assert "TikTok hat Storefront" not in body
    assert content.step_text("de", "what-changed").title == "From TikTok Storefront to TikTok Shop"
    # Translated again from the current version: German.
    _translate_what_changed(small_tree, english_version=2, german_version=2)
    content = load_content(small_tree)
    views = Views(content, Renderer(content))
    body = views.step_body("de", step, {}, details=False, now=NOW, deadline=DEADLINE)
    assert body == "TikTok hat Storefront am 7. Dezember 2026 abgeschaltet."


def test_content_translations_reports_and_stamps(
    small_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _translate_what_changed(small_tree, english_version=1, german_version=1)
    settings = make_settings("sqlite+aiosqlite:///:memory:", content_dir=small_tree)
    args = argparse.Namespace(task="translations", stamp=None, force=[])
    assert cli.main(args, settings) == 1  # this translation left the step's flags out
    out = capsys.readouterr().out
    assert "de: " in out and "unstamped steps" in out and "what-changed" in out
    assert "steps whose flags are not translated" in out
    stamped = argparse.Namespace(task="translations", stamp="de", force=[])
    assert cli.main(stamped, settings) == 0
    german = small_tree / "locales" / "de" / "guidance" / "what-changed.md"
    english = load_content(small_tree).english_source("what-changed")
    assert f"version: 1\nsource: {english}\n" in german.read_text(encoding="utf-8")
    content = load_content(small_tree)
    assert content.translation_state("de", "what-changed") == "current"
    # The English text changes: the translation is stale (a warning, not a failure).
    path = small_tree / "guidance" / "what-changed.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
    content = load_content(small_tree)
    assert content.translation_state("de", "what-changed") == "stale"
    assert any("changed since it was translated" in str(w) for w in warnings(content))


def test_content_check_warns_about_facts_that_would_show_english(small_tree: Path) -> None:
    facts = small_tree / "facts.yaml"
    facts.write_text(
        facts.read_text(encoding="utf-8").replace(
            '    pro: {value: {en: "no cap", de: "keine Obergrenze"}}', '    pro: "no cap at all"'
        ),
        encoding="utf-8",
    )
    content = load_content(small_tree)
    found = [str(w) for w in warnings(content)]
    assert any("probation.us.pro ('no cap at all') shows English text in de" in w for w in found)


# Terms TikTok keeps in English, and English words German uses as they are.
BRAND_TERMS = (
    "TikTok Shop",
    "TikTok Storefront",
    "Storefront",
    "Seller Center",
    "Shopify",
    "GMV Max",
    "FBT",
    "LIVE",
)


def english_ui_strings(content: Content) -> set[str]:
    """English UI strings German must not show: every English string of 12+ characters
    (without template code) whose German string differs, with brand terms removed."""
    english = content.locales["en"]
    found = set()

    def walk(node: object, key: str) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                walk(value, f"{key}.{name}" if key else str(name))
            return
        if not isinstance(node, str) or "{" in node or "<" in node:
            return
        text = node.strip()
        try:
            german = content.locales["de"].lookup(key)
        except KeyError:
            german = None
        for term in BRAND_TERMS:
            text = text.replace(term, "")
        if len(text.strip()) >= 12 and german != node:
            found.add(node.strip())

    walk(dict(english.strings), "")
    return found


@pytest.mark.slow
async def test_a_german_merchant_goes_from_start_to_plan_reminders_and_calendar_in_german(
    app: BotApp, fake: FakeTelegram, content: Content
) -> None:
    lena = SimulatedUser(app, fake, user_id=4712, first_name="Lena", language_code="de")
    seen: list[str] = []

    async def say(text: str) -> None:
        seen.extend(m.text or "" for m in await lena.send(text))

    await say("/start")
    for answer in (
        "Shopify",
        "Deutschland, Vereinigtes Königreich",
        "GmbH",
        "hier",
        "mittel",
        "machen wir selbst",
        "Shop-Tab",
        "noch nicht",
        "überspringen",
        "überspringen",
    ):
        await say(answer)
    shown = "\n".join(seen)
    assert "Deine Antworten" in shown and "Weil du" in shown
    await say("/plan")
    await say("/next")
    seen.extend(m.text or "" for m in await lena.press(lena.buttons()[0]))  # Erledigt
    await say("/alerts")
    seen.extend(m.text or "" for m in await lena.press("🔔 Erinnerungen einschalten"))
    calendar = (await lena.send("/calendar"))[-1]
    assert calendar.document is not None
    ics = (calendar.document_bytes or b"").decode()
    assert "TikTok Storefront abgeschaltet" in ics
    everything = "\n".join(seen)
    for german in ("Schritt", "Erinnerungen", "Dezember 2026", "Tage"):
        assert german in everything, german
    leaked = sorted(s for s in english_ui_strings(content) if s in everything)
    assert leaked == []
    assert "December" not in everything and "Your answers" not in everything
