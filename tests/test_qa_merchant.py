"""A merchant typing instead of tapping, found by an adversarial walk before a test round.

Each test here failed before the fix it covers, and asserts on what the merchant sees or
what the bot stored, through the real Application and the fake Bot API.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.content.loader import ContentError, load_content
from bot.context import BotApp
from bot.storage.db import Database
from bot.storage.models import Merchant
from tests.chat import Profile, interview


async def answers_of(db: Database, user_id: int = 1001) -> dict[str, object]:
    async with db.session() as session:
        found = await session.get(Merchant, user_id)
        assert found is not None
        return dict(found.answers)


SHOP = Profile("q", "Shopify", ("United Kingdom",), shop_name="Tom's Tees")

# --- changing an answer: typing what the Cancel button (or Back) says ------------------------


SHOP_NAME = ("Change: Shop name", "What is your shop called?")
ENTITY = ("Change: Business type", "registered company")
MARKETS = ("Change: Markets", "Which markets")


@pytest.mark.parametrize(
    ("typed", "change", "question"),
    [
        ("cancel", *SHOP_NAME),
        ("back", *SHOP_NAME),
        ("Cancel!", *ENTITY),
        ("never mind", *ENTITY),
        ("✖️ Cancel", *MARKETS),
        ("back", *MARKETS),
    ],
)
async def test_typing_cancel_while_changing_an_answer_cancels_the_change(
    user: SimulatedUser, db: Database, typed: str, change: str, question: str
) -> None:
    await interview(user, SHOP)
    before = await answers_of(db)
    await user.send("/profile")
    assert question in ((await user.press(change))[-1].text or "")
    replies = await user.send(typed)
    shown = "\n".join(m.text or "" for m in replies)
    # The answers as they were, the profile back (not a shop called "cancel", not a hint).
    assert await answers_of(db) == before
    assert "Your answers" in shown and "Tom's Tees" in shown, shown
    assert "as they were" in shown
    assert "not sure what you mean" not in shown and "didn't catch" not in shown
    assert "Change: Shop name" in user.buttons()


async def test_typing_cancel_in_german_while_changing_an_answer(
    user: SimulatedUser, db: Database
) -> None:
    await user.send("/language Deutsch")
    german = Profile("q", "Shopify", ("UK",), shop_name="Laden", go_live="2027-06-30")
    await interview(user, replace(german, type_instead=True))
    before = await answers_of(db)
    await user.send("/profile")
    await user.press("Ändern: Shop-Name")
    shown = "\n".join(m.text or "" for m in await user.send("Abbrechen"))
    assert await answers_of(db) == before
    assert "Laden" in shown and "Abbrechen" not in shown


@pytest.mark.parametrize(
    ("change", "number"),
    [("Change: Markets", 2), ("Change: Shop name", 9), ("Change: Store platform", 1)],
)
async def test_a_changed_question_shows_its_own_number(
    user: SimulatedUser, change: str, number: int
) -> None:
    await interview(user, SHOP)
    await user.send("/profile")
    text = (await user.press(change))[-1].text or ""
    assert text.startswith(f"Question {number} · changing an answer"), text


# --- the plan: typing what a button says, or a command's name without the slash ------------


async def blocked_merchant(user: SimulatedUser) -> None:
    """A merchant whose plan opens with a blocker (an individual selling into the US from
    abroad), the blocker on screen."""
    await user.send("/start")
    for answer in ("no web store", "US", "individual", "abroad", "12", "own", "applied"):
        await user.send(answer)
    await user.send("skip")
    await user.send("skip")
    await user.send("/next")
    assert "Individuals cannot sell cross-border" in user.last_text()


@pytest.mark.parametrize("typed", ["understood", "👍 Understood", "OK", "got it"])
async def test_typing_understood_on_a_blocker_acknowledges_it(
    user: SimulatedUser, typed: str
) -> None:
    await blocked_merchant(user)
    follow = (await user.send(typed))[-1].text or ""
    assert follow.startswith("Step 1 of"), follow
    assert "Nice work" not in follow


async def test_ok_is_not_done_on_a_step_that_is_work(user: SimulatedUser) -> None:
    await interview(user, SHOP)
    await user.send("/next")
    assert user.last_text().startswith("Step 1 of")
    for typed in ("ok", "understood"):
        said = "\n".join(m.text or "" for m in await user.send(typed))
        # Not "I'm not sure what you mean": how to tick it off (and no word they did not type).
        assert "press ✅ Done once you have done it" in said, said
        assert '"ok"' not in said, said
    plan = (await user.send("/plan"))[-1].text or ""
    assert "0 of" in plan


async def test_typing_undo_and_details_on_a_step(user: SimulatedUser) -> None:
    await interview(user, SHOP)
    await user.send("/next")
    first = user.last_text().splitlines()[0]
    assert first.startswith("Step 1 of")
    await user.send("done")  # step 2 is on screen now
    replies = await user.send("undo")  # ...but the undo is for the step just marked
    shown = "\n".join(m.text or "" for m in replies)
    assert "Opened again." in shown
    assert replies[-1].text is not None and replies[-1].text.startswith(first.split(":")[0])
    assert "✅ Done" in user.buttons()
    # The step opened again is the one on screen: "details" and "done" are for it.
    title = first.split(": ", 1)[1]
    details = (await user.send("details"))[-1].text or ""
    assert details.startswith(f"ℹ️ {title}"), details
    await user.send("done")
    await user.send("undo")
    plan = (await user.send("/plan"))[-1].text or ""
    assert "0 of" in plan
    await user.send("/next")
    details = (await user.send("details"))[-1].text or ""
    assert "Sources" in details or "sources" in details, details
    # Nothing marked: "undo" has nothing to take back and says what it can do instead.
    reply = (await user.send("undo"))[-1].text or ""
    assert "Opened again." not in reply


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("plan", "Plan for Tom's Tees"),
        ("show my plan", "Plan for Tom's Tees"),
        ("📋 Show my plan", "Plan for Tom's Tees"),
        ("my answers", "Your answers"),
        ("✏️ My answers", "Your answers"),
        ("alerts", "Reminders:"),
        ("🔔 Alerts", "Reminders:"),
        ("help", "How I can help"),
        ("Help!", "How I can help"),
    ],
)
async def test_typing_a_command_or_button_name_after_the_interview(
    user: SimulatedUser, typed: str, expected: str
) -> None:
    await interview(user, SHOP)
    reply = (await user.send(typed))[-1].text or ""
    assert expected in reply, reply


async def test_typing_commands_and_step_words_in_german(user: SimulatedUser) -> None:
    await user.send("/language Deutsch")
    await interview(user, replace(SHOP, go_live="2027-06-30", type_instead=True))
    assert "Deine Antworten" in ((await user.send("meine Antworten"))[-1].text or "")
    assert "Erinnerungen:" in ((await user.send("Erinnerungen"))[-1].text or "")
    await user.send("/next")
    await user.send("erledigt")
    replies = await user.send("rückgängig")
    assert "Wieder geöffnet" in "\n".join(m.text or "" for m in replies)


# --- answers in the other shipped language (a German merchant on an English screen) ---------


async def test_markets_and_answers_typed_in_german_on_an_english_screen(
    user: SimulatedUser, db: Database
) -> None:
    await user.send("/start")
    await user.send("Shopify")
    reply = (await user.send("USA, GB, Mexiko"))[-1].text or ""
    assert "registered company" in reply, reply  # every market known: on to the next question
    assert (await answers_of(db))["market"] == ["us", "uk", "mx"]
    reply = (await user.send("zurück"))[-1].text or ""
    assert "Which markets do you sell to?" in reply, reply
    reply = (await user.send("Spanien, Narnia"))[-1].text or ""
    assert "Ticked: United States, United Kingdom, Spain, Mexico" in reply, reply
    assert "“Narnia”" in reply and "Spanien" not in reply
    await user.press("Done ✓")
    await user.send("Einzelunternehmer")
    assert (await answers_of(db))["entity"] == "individual"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("31. März 2027", "2027-03-31"),
        ("Ende März 2027", "2027-03-31"),
        ("März 2027", "2027-03-01"),
    ],
)
async def test_go_live_typed_in_german_on_an_english_screen(
    user: SimulatedUser, db: Database, typed: str, stored: str
) -> None:
    await interview(user, replace(SHOP, status="Not started", type_instead=True, go_live=typed))
    assert (await answers_of(db))["go_live"] == stored


async def test_go_live_in_the_past_typed_in_german_says_it_passed(user: SimulatedUser) -> None:
    await interview(user, replace(SHOP, go_live="2027-06-30"))
    await user.send("/profile")
    await user.press("Change: Your go-live date")
    reply = (await user.send("1. Januar 2020"))[-1].text or ""
    assert "1 January 2020 has already passed" in reply, reply


async def test_english_on_a_german_screen_still_works(user: SimulatedUser, db: Database) -> None:
    await user.send("/language Deutsch")
    await interview(user, replace(SHOP, go_live="end of March 2027", type_instead=True))
    answers = await answers_of(db)
    assert answers["platform"] == "shopify" and answers["go_live"] == "2027-03-31"


# --- typos: a letter dropped, added or two swapped -------------------------------------------


async def test_typos_in_option_names_are_understood(user: SimulatedUser, db: Database) -> None:
    await user.send("/start")
    reply = (await user.send("I use shopfiy"))[-1].text or ""
    assert "Which markets do you sell to?" in reply, reply
    assert (await answers_of(db))["platform"] == "shopify"
    reply = (await user.send("Untied Kingdom, Gemany and Frnace"))[-1].text or ""
    assert "registered company" in reply, reply
    assert (await answers_of(db))["market"] == ["uk", "de", "fr"]
    await user.send("back")
    # A real country one letter away from a market is not that market.
    reply = (await user.send("Iceland"))[-1].text or ""
    assert "I don't know “Iceland”" in reply or "didn't catch" in reply, reply
    assert (await answers_of(db))["market"] == ["uk", "de", "fr"]


async def test_a_typo_in_a_one_word_answer(user: SimulatedUser) -> None:
    await user.send("/start")
    await user.send("Shopify")
    await user.send("UK")
    await user.send("company")
    reply = (await user.send("lcoal"))[-1].text or ""  # local
    assert "How many products" in reply, reply


# --- reminders: "stop" typed, as people answer unwanted messages -------------------------------


@pytest.mark.parametrize(
    "typed", ["stop", "STOP", "unsubscribe", "🔕 Stop alerts", "turn alerts off"]
)
async def test_typing_stop_turns_alerts_off(user: SimulatedUser, db: Database, typed: str) -> None:
    await interview(user, replace(SHOP, go_live="2027-06-30"))
    await user.send("/alerts")
    await user.press("🔔 Turn alerts on")
    replies = await user.send(typed)
    shown = "\n".join(m.text or "" for m in replies)
    assert "Alerts stopped" in shown and "Reminders: off" in shown, shown
    async with db.session() as session:
        merchant = await session.get(Merchant, user.user_id)
        assert merchant is not None and not merchant.alerts_on
    shown = "\n".join(m.text or "" for m in await user.send("turn alerts on"))
    assert "Alerts are on." in shown and "Reminders: on" in shown, shown


# --- a command while an answer is being changed ------------------------------------------------


@pytest.mark.parametrize("command", ["/start", "/plan", "/next", "/profile"])
async def test_a_command_mid_change_cancels_it_and_keeps_nothing_half_done(
    user: SimulatedUser, db: Database, command: str
) -> None:
    await interview(user, SHOP)
    before = await answers_of(db)
    await user.send("/profile")
    await user.press("Change: Markets")
    await user.press("☑️ United Kingdom")  # untick
    await user.press("⬜ Germany")  # tick, but never press Done
    replies = await user.send(command)
    shown = "\n".join(m.text or "" for m in replies)
    assert await answers_of(db) == before
    assert "as they were" in shown, shown
    assert "finish your answers first" not in shown
    assert "changing an answer" not in shown
    profile = (await user.send("/profile"))[-1].text or ""
    assert "United Kingdom" in profile and "Germany" not in profile


# --- counts written with a dot or comma between thousands, as in German -----------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ca. 1.200 Produkte", "large"),
        ("2.000 Artikel", "large"),
        ("1,5k", "large"),
        ("etwa 12.000 SKUs", "large"),
        ("300", "medium"),
        ("1.200 products", "large"),
    ],
)
async def test_catalogue_counts_with_thousands_separators(
    user: SimulatedUser, db: Database, typed: str, stored: str
) -> None:
    await user.send("/language Deutsch")
    await user.send("/start")
    for answer in ("Shopify", "Deutschland", "Firma", "lokal"):
        await user.send(answer)
    reply = (await user.send(typed))[-1].text or ""
    assert "Wer verpackt und verschickt" in reply, reply
    assert (await answers_of(db))["catalogue"] == stored


# --- dates merchants say: the end of the year, next Friday in German ---------------------------


@pytest.mark.parametrize(
    ("lang", "typed", "stored"),
    [
        ("en", "by the end of the year", "2026-12-31"),
        ("en", "end of the year", "2026-12-31"),
        ("en", "start of next year", "2027-01-01"),
        ("de", "bis Ende des Jahres", "2026-12-31"),
        ("de", "Ende des Monats", "2026-11-30"),
        ("de", "Ende nächsten Monats", "2026-12-31"),
        ("de", "Anfang nächsten Jahres", "2027-01-01"),
        ("de", "nächsten Freitag", "2026-12-04"),
        ("de", "kommenden Montag", "2026-11-30"),
    ],
)
async def test_go_live_phrases_for_the_end_of_a_period_and_weekdays(
    user: SimulatedUser, db: Database, lang: str, typed: str, stored: str
) -> None:
    if lang == "de":
        await user.send("/language Deutsch")
    await interview(user, replace(SHOP, type_instead=True, go_live=typed))
    assert (await answers_of(db))["go_live"] == stored


# --- a button's emoji alone, sent from the emoji keyboard ---------------------------------------


async def test_a_buttons_emoji_typed_alone(user: SimulatedUser) -> None:
    await blocked_merchant(user)
    follow = (await user.send("👍"))[-1].text or ""
    assert follow.startswith("Step 1 of"), follow  # the blocker is acknowledged
    follow = (await user.send("✅"))[-1].text or ""
    assert follow.startswith("Step 2 of") and "Nice work! 1 of" in follow, follow
    await user.send("👍")  # on a step that is work: not marked done
    plan = (await user.send("📋"))[-1].text or ""
    assert "1 of" in plan and "Your migration plan" in plan, plan


@pytest.mark.parametrize("typed", ["Deutsch", "german"])
async def test_a_language_name_typed_after_the_interview_switches(
    user: SimulatedUser, typed: str
) -> None:
    await interview(user, SHOP)
    reply = (await user.send(typed))[-1].text or ""
    assert "Deutsch" in reply or "deutsch" in reply, reply
    plan = (await user.send("/plan"))[-1].text or ""
    assert "Plan für" in plan or "Schritt" in plan, plan


# --- what merchants call their setup ------------------------------------------------------------


async def test_everyday_names_for_answers(user: SimulatedUser, db: Database) -> None:
    await user.send("/start")
    typed = [
        ("Etsy", "platform", "other"),
        ("UK", "market", ["uk"]),
        ("just me", "entity", "individual"),
        ("outside", "origin", "cross_border"),
        ("12", "catalogue", "small"),
        ("fulfillment center", "fulfilment", "3pl"),
        ("ads", "uses", ["ads"]),
        ("under review", "shop_status", "applied"),
    ]
    for text, question, stored in typed:
        reply = (await user.send(text))[-1].text or ""
        assert "didn't catch" not in reply, (text, reply)
        assert (await answers_of(db))[question] == stored, text
    await user.send("/start")
    for text in ("back",) * 8:
        await user.send(text)
    assert "Which platform" in user.last_text()
    await user.send("I don't have a website")
    assert (await answers_of(db))["platform"] == "none"


# --- /delete answered by typing -----------------------------------------------------------------


async def test_yes_or_no_typed_at_the_delete_question(user: SimulatedUser, db: Database) -> None:
    await interview(user, SHOP)
    await user.send("/delete")
    replies = await user.send("yes")
    shown = "\n".join(m.text or "" for m in replies)
    assert "tap" in shown and "Yes, delete everything" in shown, shown
    assert "<b>" not in shown, shown  # the string's tags were escaped: shown as written
    assert any(e.type == "bold" for m in replies for e in m.entities), replies
    assert "Yes, delete everything" in user.buttons()  # the question again, to tap
    assert await answers_of(db)  # nothing erased by a typed word
    shown = "\n".join(m.text or "" for m in await user.send("no"))
    assert "Nothing was deleted." in shown, shown
    # The question is answered: "yes" now means nothing special.
    shown = "\n".join(m.text or "" for m in await user.send("yes"))
    assert "Yes, delete everything" not in shown
    assert await answers_of(db)


async def test_no_typed_at_a_question_after_delete_answers_the_question(
    user: SimulatedUser, db: Database
) -> None:
    await user.send("/start")
    await user.send("/delete")
    await user.press("No, keep it")
    await user.send("/delete")  # asked again, left unanswered
    await user.send("/start")
    await user.send("no")  # at "Which platform": "I have no web store"
    assert (await answers_of(db))["platform"] == "none"


# --- where the business is based, said as a place ---------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("we're based in Germany", "local"),
        ("UK", "local"),
        ("based in the US", "cross_border"),
        ("we ship from China", "cross_border"),
        ("Hong Kong", "cross_border"),
    ],
)
async def test_origin_said_as_a_place(
    user: SimulatedUser, db: Database, typed: str, stored: str
) -> None:
    await user.send("/start")
    for answer in ("Shopify", "UK and Germany", "company"):
        await user.send(answer)
    reply = (await user.send(typed))[-1].text or ""
    assert "How many products" in reply, reply
    assert (await answers_of(db))["origin"] == stored


async def test_origin_in_two_places_one_sold_to_is_not_guessed(
    user: SimulatedUser, db: Database
) -> None:
    await user.send("/start")
    for answer in ("Shopify", "UK", "company"):
        await user.send(answer)
    reply = (await user.send("offices in the UK and the US"))[-1].text or ""
    assert "didn't catch" in reply
    assert "origin" not in await answers_of(db)


@pytest.mark.parametrize(
    "places",
    [
        "{question: shop_status, inside: local, outside: cross_border}",  # a later question
        "{question: market, inside: local, outside: abroad}",  # not an option of origin
        "{question: shop_name, inside: local, outside: cross_border}",  # not a choice
    ],
)
def test_a_wrong_places_setting_is_refused(small_tree: Path, places: str) -> None:
    path = small_tree / "interview.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "places: {question: market, inside: local, outside: cross_border}", f"places: {places}"
        )
    )
    with pytest.raises(ContentError) as info:
        load_content(small_tree)
    assert any("origin: places must name" in str(p) for p in info.value.problems)


# --- a region where countries are asked for ---------------------------------------------------


@pytest.mark.parametrize(("typed", "ticked"), [("Europe", []), ("UK and the EU", ["uk"])])
async def test_a_region_typed_at_the_markets_asks_for_its_countries(
    user: SimulatedUser, db: Database, typed: str, ticked: list[str]
) -> None:
    await user.send("/start")
    await user.send("Shopify")
    reply = (await user.send(typed))[-1].text or ""
    assert "Which markets do you sell to?" in reply
    assert "covers several markets" in reply, reply
    assert "didn't catch" not in reply and "I don't know" not in reply
    assert (await answers_of(db)).get("market", []) == ticked


@pytest.mark.parametrize(
    ("lang", "done", "nothing", "next_question"),
    [
        ("en", "done", "Nothing is ticked yet", "registered company"),
        ("en", "Done ✓", "Nothing is ticked yet", "registered company"),
        ("de", "fertig", "Noch nichts ausgewählt", "eingetragenes Unternehmen"),
    ],
)
async def test_done_typed_at_a_several_choice_question_does_what_the_button_does(
    app: BotApp, fake: FakeTelegram, lang: str, done: str, nothing: str, next_question: str
) -> None:
    """The question says "then press Done"; typing it was "I didn't catch that"."""
    user = SimulatedUser(app, fake, user_id=3301, first_name="Ana", language_code=lang)
    await user.send("/start")
    await user.send("Shopify")
    reply = (await user.send(done))[-1].text or ""
    assert nothing in reply, reply  # nothing ticked yet: said so, still at the markets
    await user.press("⬜ United Kingdom" if lang == "en" else "⬜ Großbritannien")
    await user.press("⬜ Germany" if lang == "en" else "⬜ Deutschland")
    reply = (await user.send(done))[-1].text or ""
    assert next_question in reply, reply
    assert (await answers_of_app(app, 3301))["market"] == ["uk", "de"]


async def answers_of_app(app: BotApp, user_id: int) -> dict[str, object]:
    return await answers_of(app.bot_data.db, user_id)


@pytest.mark.parametrize(
    ("typed", "markets"),
    [
        # Northern Ireland is in the UK: it was read as Ireland (an EU plan, EU VAT).
        ("Northern Ireland", ["uk"]),
        ("Ireland and Northern Ireland", ["uk", "ie"]),
        ("we sell in northern ireland", ["uk"]),
        # Codes one after another: "US" was dropped without a word (ids count only alone).
        ("US UK", ["us", "uk"]),
        ("UK US", ["us", "uk"]),
        ("us uk de", ["us", "uk", "de"]),
    ],
)
async def test_markets_typed_as_people_list_them(
    user: SimulatedUser, db: Database, typed: str, markets: list[str]
) -> None:
    await user.send("/start")
    await user.send("Shopify")
    await user.send(typed)
    assert (await answers_of(db))["market"] == markets


@pytest.mark.parametrize(
    ("lang", "answers", "stored"),
    [
        ("en", ("Shopify", "the States"), {"market": ["us"]}),
        ("en", ("Shopify", "UK", "company", "local", "hundreds"), {"catalogue": "medium"}),
        ("en", ("Shopify", "UK", "company", "local", "thousands"), {"catalogue": "large"}),
        ("en", ("Shopify", "UK", "company", "local", "12", "Amazon"), {"fulfilment": "3pl"}),
        ("en", ("Shopify", "UK", "company", "local", "12", "TikTok"), {"fulfilment": "fbt"}),
        ("de", ("Shopify", "UK", "GmbH", "hier", "Hunderte"), {"catalogue": "medium"}),
        ("de", ("Shopify", "UK", "GmbH", "hier", "12", "Amazon"), {"fulfilment": "3pl"}),
    ],
)
async def test_more_answers_as_merchants_type_them(
    app: BotApp, fake: FakeTelegram, lang: str, answers: tuple[str, ...], stored: dict[str, object]
) -> None:
    user = SimulatedUser(app, fake, user_id=3310, first_name="Ty", language_code=lang)
    await user.send("/start")
    for answer in answers:
        await user.send(answer)
    found = await answers_of_app(app, 3310)
    assert {key: found.get(key) for key in stored} == stored, found


async def test_after_delete_a_command_then_start_is_a_first_welcome(user: SimulatedUser) -> None:
    """/delete, then /plan (which makes a new, empty merchant), then /start greeted
    "Welcome back" a merchant whose data had just been erased."""
    await interview(user, SHOP)
    await user.send("/delete")
    await user.press("Yes, delete everything")
    await user.send("/plan")
    shown = "\n".join(m.text or "" for m in await user.send("/start"))
    assert "Welcome back" not in shown, shown
    assert "I help merchants move their TikTok selling" in shown, shown
