"""Issue 20, outside the turn: what the cheaper screen-building paths must keep identical.

Strings are looked up by dotted key many times per screen; callback data is encoded once
per button. Both got cheaper paths (a flat key index built with the locale, a remembered
encoding of each immutable button value); these tests pin that every answer, and every
refusal, is what the plain walk / the plain encoding gave.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.content.loader import Content, Locale
from bot.domain import callbacks


def walk(strings: Mapping[str, Any], key: str) -> Any:
    """The lookup as the loader first wrote it: one mapping level per dotted part."""
    node: Any = strings
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def every_key(node: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in node.items():
        here = f"{prefix}{key}"
        yield here
        if isinstance(value, Mapping):
            yield from every_key(value, here + ".")


def test_every_string_key_of_every_shipped_locale_looks_up_as_the_walk_does(
    content: Content,
) -> None:
    for locale in content.locales.values():
        keys = list(every_key(locale.strings))
        assert len(keys) > 100
        for key in keys:
            assert locale.lookup(key) is walk(locale.strings, key), (locale.code, key)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "missing",
        "buttons.missing",
        "buttons.back.deeper",  # through a text: not a mapping
        "a.b",  # a top-level key with a dot in it is not reachable by parts
        "a",
        "1",  # a number key (the loader turns them to text; a hand-made locale may not)
        "nested..x",
        "nested.",
    ],
)
def test_keys_the_walk_refuses_are_refused(key: str) -> None:
    strings: dict[Any, Any] = {
        "buttons": {"back": "« Back"},
        "a.b": "dotted",
        1: "number",
        "nested": {"": {"x": "empty part"}, "y": "z"},
    }
    locale = Locale("xx", strings, {}, Path())
    try:
        expected: Any = walk(strings, key)
    except KeyError:
        with pytest.raises(KeyError):
            locale.lookup(key)
    else:
        assert locale.lookup(key) is expected


def test_a_hand_made_locale_finds_nested_keys_and_mappings() -> None:
    strings = {"buttons": {"back": "« Back"}, "nested": {"": {"x": "empty part"}}}
    locale = Locale("xx", strings, {}, Path())
    assert locale.lookup("buttons.back") == "« Back"
    assert locale.lookup("buttons") is strings["buttons"]
    assert locale.lookup("nested..x") == "empty part"


def plain_encode(button: callbacks.Callback) -> str:
    """The encoding as first written: every field checked on every call."""
    if isinstance(button, callbacks.Alerts):
        parts = [button.arg()]
        hints: list[Any] = [str]
    else:
        schema = callbacks._SCHEMA[type(button)]
        parts = [str(getattr(button, name)) for name, _ in schema]
        hints = [hint for _, hint in schema]
    for part, hint in zip(parts, hints, strict=True):
        if not callbacks._field_ok(part, hint):
            raise ValueError(part)
    data = callbacks.VERSION + button.CODE + "".join(":" + part for part in parts)
    if len(data.encode()) > callbacks.MAX_BYTES:
        raise ValueError(data)
    return data


GOOD = [
    callbacks.Choose(3, "market", "uk"),
    callbacks.Back(0),
    callbacks.Confirm(7, "market"),
    callbacks.SkipQuestion(2, "go_live"),
    callbacks.CancelEdit(),
    callbacks.OpenStep("open-shop"),
    callbacks.PlanPage(1),
    callbacks.Alerts("show"),
    callbacks.Alerts("tz", "berlin"),
    callbacks.DeleteData("yes"),
]
BAD = [
    callbacks.Choose(True, "market", "uk"),  # a bool is an int to Python, not to the wire
    callbacks.Choose(3, "Market", "uk"),
    callbacks.Choose(2**31, "market", "uk"),
    callbacks.OpenStep("x" * 41),
    callbacks.Alerts("tz", "Berlin"),
    callbacks.DeleteData("maybe"),  # type: ignore[arg-type]
]


def test_buttons_encode_as_the_plain_encoding_every_time() -> None:
    for _ in range(2):
        for button in GOOD:
            assert callbacks.encode(button) == plain_encode(button)
            assert callbacks.decode(callbacks.encode(button)) == button


@pytest.mark.parametrize("button", BAD, ids=repr)
def test_a_bad_field_is_refused_every_time_even_after_an_equal_good_one(
    button: callbacks.Callback,
) -> None:
    callbacks.encode(callbacks.Choose(1, "market", "uk"))  # equal to Choose(True, ...)
    for _ in range(2):
        with pytest.raises(ValueError):
            plain_encode(button)
        with pytest.raises(ValueError):
            callbacks.encode(button)
