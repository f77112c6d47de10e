"""Locale-aware from day one: a merchant's language is used where translated, English elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram, SimulatedUser
from bot.content.check import check
from bot.content.loader import load_content
from bot.storage.db import Database
from tests.conftest import REPO, make_settings


def spanish_tree(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(REPO / "content", root)
    es = root / "locales" / "es"
    (es / "guidance").mkdir(parents=True)
    (es / "templates").mkdir()
    (es / "strings.yaml").write_text(
        "questions:\n"
        "  platform:\n"
        "    text: ¿En qué plataforma funcionaba tu TikTok Storefront?\n"
        "buttons:\n"
        "  back: « Atrás\n",
        encoding="utf-8",
    )
    (es / "guidance" / "what-changed.md").write_text(
        "---\nid: what-changed\nversion: 1\ntitle: Qué cambió con el cierre de Storefront\n---\n"
        "TikTok apagó Storefront el {{ deadline.date }}.\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.slow
def test_translated_tree_passes_the_check(tmp_path: Path) -> None:
    content, problems = check(spanish_tree(tmp_path))
    assert content is not None and "es" in content.locales
    assert problems == []


@pytest.mark.slow
async def test_spanish_merchant_sees_spanish_where_translated(tmp_path: Path) -> None:
    root = spanish_tree(tmp_path)
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/bot.db", content_dir=root)
    db = Database(settings.database_url)
    await db.upgrade()
    fake = FakeTelegram(token=settings.token())
    app = build_application(settings, request=FakeRequest(fake), content=load_content(root), db=db)
    async with app:
        maria = SimulatedUser(app, fake, user_id=31, first_name="María", language_code="es-ES")
        question = (await maria.send("/start"))[-1]
        assert "¿En qué plataforma funcionaba tu TikTok Storefront?" in (question.text or "")
        assert "Shopify" in question.button_labels  # option labels fall back to English
        markets = (await maria.press("Shopify"))[-1]
        assert "« Atrás" in markets.button_labels
        assert "Which markets do you sell to?" in (markets.text or "")  # untranslated: English
        english = SimulatedUser(app, fake, user_id=32, language_code="en")
        assert "Which platform" in ((await english.send("/start"))[-1].text or "")
    await db.dispose()


def test_translation_of_unknown_step_is_refused(tmp_path: Path) -> None:
    root = spanish_tree(tmp_path)
    (root / "locales" / "es" / "guidance" / "nowhere.md").write_text(
        "---\nid: nowhere\nversion: 1\ntitle: Ningún paso\n---\nTexto.\n", encoding="utf-8"
    )
    _, problems = check(root)
    assert any("nowhere.md:2: translation of unknown step 'nowhere'" in str(p) for p in problems)
