"""``content check`` proves "platform steps never talk about a platform the merchant does not
use" over every answer class, with ``mentions`` for neutral mentions (issue #14)."""

from __future__ import annotations

from pathlib import Path

from bot.content.check import Checker
from bot.content.loader import load_content
from tests.test_content import VALID_FRONT, write_step

SHOPIFY_STEP = VALID_FRONT.format(id="shopify-sync").replace(
    "scope: general\n", "scope: platform\nwhen:\n  platform: [shopify]\n"
)
BODY = (
    "Open the TikTok app in your admin.\n"
    "{% if answers.platform == 'shopify' %}Shopify syncs your catalogue.{% endif %}\n"
    "Unlike on Ecwid, orders sync both ways.\n"
)


def mention_problems(root: Path) -> list[str]:
    checker = Checker(load_content(root))
    checker.platform_mentions()
    return [str(p) for p in checker.problems]


def test_a_platform_step_naming_another_platform_fails_at_its_line(small_tree: Path) -> None:
    path = write_step(small_tree, "shopify-sync", SHOPIFY_STEP, body=BODY)
    body_line = SHOPIFY_STEP.count("\n") + 3  # the --- lines, then the body
    assert mention_problems(small_tree) == [
        f"{path}:{body_line + 2}: step shopify-sync names Ecwid to a merchant on shopify:"
        " show it only to ecwid merchants (a `when` condition, or an `if` in the text), or"
        " add `mentions: [ecwid]` to the front matter if the mention is neutral"
    ]


def test_a_neutral_mention_declared_in_front_matter_passes(small_tree: Path) -> None:
    write_step(small_tree, "shopify-sync", SHOPIFY_STEP + "mentions: [ecwid]\n", body=BODY)
    assert mention_problems(small_tree) == []


def test_a_mention_behind_the_merchants_own_platform_passes(small_tree: Path) -> None:
    body = BODY.replace("Unlike on Ecwid, orders", "Orders")
    write_step(small_tree, "shopify-sync", SHOPIFY_STEP, body=body)
    assert mention_problems(small_tree) == []


def test_an_unknown_platform_in_mentions_is_named(small_tree: Path) -> None:
    path = write_step(small_tree, "shopify-sync", SHOPIFY_STEP + "mentions: [magento]\n")
    found = mention_problems(small_tree)
    assert found and found[0].startswith(f"{path}:1: mentions: 'magento' is not a platform option")
