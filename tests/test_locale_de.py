"""German (de) user interface: a German merchant answers by typing German words and reads
German questions, buttons and "weil …" reasons that are grammatical German."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.screens import AlertScreens, SettingsView
from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.content.loader import Content
from bot.content.render import Renderer
from bot.domain.interview import match_parts, normalise
from bot.views.screens import Views
from tests.conftest import AppFactory


@pytest.mark.slow
async def test_german_merchant_types_german_answers(
    make_app: AppFactory, fake: FakeTelegram
) -> None:
    async with make_app() as app:
        lena = SimulatedUser(app, fake, user_id=4711, first_name="Lena", language_code="de-DE")
        first = (await lena.send("/start"))[-1]
        assert "Über welche Plattform läuft dein Onlineshop?" in (first.text or "")
        assert "Eine andere Plattform" in first.button_labels
        market = (await lena.send("ich nutze Shopify"))[-1]
        assert "In welche Märkte verkaufst du?" in (market.text or "")
        assert "Fertig ✓" in market.button_labels
        entity = (await lena.send("Deutschland, Österreich und England"))[-1]
        assert "eingetragenes Unternehmen" in (entity.text or "")
        await lena.send("GmbH")
        await lena.send("hier")
        await lena.send("mittel")
        await lena.send("machen wir selbst")
        await lena.send("Shop-Tab, Lives")
        await lena.send("noch nicht")
        golive = (await lena.send("überspringen"))[-1]
        assert "Ab wann möchtest du auf TikTok Shop verkaufen?" in (golive.text or "")
        replies = await lena.send("überspringen")
        shown = "\n".join(m.text or "" for m in replies)
        assert "Deine Antworten" in shown
        assert "Großbritannien, Deutschland und Österreich (unbestätigt)" in shown
        assert "Weil du in Deutschland und Österreich verkaufst." in shown
        assert "Because" not in shown and "Your answers" not in shown


def test_reasons_read_as_german_subordinate_clauses(content: Content) -> None:
    views = Views(content, Renderer(content))
    merged = views.reason_text(
        "de",
        {"platform": ["shopify"], "market": ["de", "uk"], "shop_status": ["selling"]},
        {"platform": "shopify"},
    )
    assert merged == (
        "du auf Shopify in Deutschland und Großbritannien verkaufst "
        "und du bereits auf TikTok Shop verkaufst"
    )
    used = views.reason_text("de", {"uses": ["shop_tab", "ads"]}, {})
    assert used == "du Storefront für den Shop-Tab in deinem Profil und für Anzeigen genutzt hast"
    assert views.reason_text("de", {"platform": ["none"]}, {"platform": "none"}) == (
        "du keinen Onlineshop hast"
    )


def test_german_words_merchants_type(content: Content) -> None:
    words = content.typed_words("de")

    def typed(qid: str, text: str) -> list[str]:
        question = content.interview.question(qid)
        found, unknown = match_parts(
            question, text, content.option_labels("de", qid), words.negations
        )
        return [] if unknown else found

    assert typed("market", "Vereinigtes Königreich, Großbritannien") == ["uk"]
    assert typed("market", "USA, Vereinigte Staaten, Spanien, Frankreich") == ["us", "es", "fr"]
    assert typed("market", "Italien, Irland, Mexiko, Brasilien, Japan") == [
        "ie",
        "it",
        "mx",
        "br",
        "jp",
    ]
    assert typed("market", "Belgien, Niederlande, Österreich, Polen") == ["be", "nl", "at", "pl"]
    assert typed("market", "in Deutschland, aber nicht in Polen") == []  # a negation: ask to tap
    assert typed("entity", "Einzelunternehmer") == ["individual"]
    assert typed("entity", "ich habe ein Gewerbe") == ["individual"]
    assert typed("entity", "Firma") == typed("entity", "GmbH") == ["company"]
    assert typed("platform", "wir haben keinen Onlineshop") == ["none"]
    assert typed("platform", "ohne Shopify") == []
    for word, meaning in [
        ("fertig", "done"),
        ("erledigt", "done"),
        ("überspringen", "skip"),
        ("weiter", "next"),
        ("zurück", "back"),
    ]:
        assert normalise(word) in getattr(words, meaning), word


async def test_alle_typed_ticks_every_use_of_storefront(
    make_app: AppFactory, fake: FakeTelegram
) -> None:
    async with make_app() as app:
        jonas = SimulatedUser(app, fake, user_id=4712, first_name="Jonas", language_code="de")
        await jonas.send("/start")
        for typed in ("Shopify", "Deutschland", "GmbH", "hier", "mittel"):
            await jonas.send(typed)
        uses = (await jonas.send("machen wir selbst"))[-1]
        assert "Hast du TikTok Storefront genutzt?" in (uses.text or "")
        status = (await jonas.send("alle"))[-1].text or ""
        assert "Verstanden" not in status and "TikTok Shop" in status, status
        await jonas.send("noch nicht")
        await jonas.send("überspringen")
        replies = await jonas.send("überspringen")
        shown = "\n".join(m.text or "" for m in replies)
        used = next(line for line in shown.splitlines() if "Storefront" in line)
        for option in ("Shop-Tab", "Produktlinks", "LIVE", "Anzeigen"):
            assert option in used, used
        assert "nicht genutzt" not in used, used


@pytest.mark.parametrize(
    ("ahead", "said"),
    [
        ((7, 1, 0), "Ich schreibe dir 7 Tage und 1 Tag vor diesem Termin und am Tag selbst."),
        ((0,), "Ich schreibe dir am Tag dieses Termins."),
        ((), "Vor diesem Termin stehen keine Erinnerungen mehr aus."),
    ],
)
def test_the_go_live_sentence_names_what_is_still_ahead_in_german(
    content: Content, ahead: tuple[int, ...], said: str
) -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    view = SettingsView(
        on=False,
        tz="Europe/Berlin",
        hour=10,
        quiet=None,
        nudge_on=False,
        nudge_days=7,
        go_live=now.date() + timedelta(days=1 if ahead == (0,) else 0 if not ahead else 10),
        deadline=datetime(2023, 9, 12, tzinfo=UTC),
        now=now,
        offsets=tuple(timedelta(days=d) for d in (30, 14, 7, 3, 1, 0)),
        golive_ahead=tuple(timedelta(days=d) for d in ahead),
    )
    text = AlertScreens(Views(content, Renderer(content))).settings("de", view).text
    assert said in text, text
