"""Tests for the Telegram HTML validator and terminal renderer."""

import pytest

from bot.botapi.tghtml import (
    Entity,
    TelegramHTMLError,
    html_to_terminal,
    parse_html,
    plain_length,
    utf16_length,
)


@pytest.mark.parametrize(
    ("html", "etype"),
    [
        ("<b>x</b>", "bold"),
        ("<strong>x</strong>", "bold"),
        ("<i>x</i>", "italic"),
        ("<em>x</em>", "italic"),
        ("<u>x</u>", "underline"),
        ("<ins>x</ins>", "underline"),
        ("<s>x</s>", "strikethrough"),
        ("<strike>x</strike>", "strikethrough"),
        ("<del>x</del>", "strikethrough"),
        ('<span class="tg-spoiler">x</span>', "spoiler"),
        ("<tg-spoiler>x</tg-spoiler>", "spoiler"),
        ("<code>x</code>", "code"),
        ("<pre>x</pre>", "pre"),
        ("<blockquote>x</blockquote>", "blockquote"),
        ("<blockquote expandable>x</blockquote>", "expandable_blockquote"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "custom_emoji"),
        ("<B>x</B>", "bold"),
    ],
)
def test_allowed_tags(html: str, etype: str) -> None:
    parsed = parse_html(html)
    assert [e.type for e in parsed.entities] == [etype]
    assert parsed.entities[0].offset == 0


def test_link_and_pre_language() -> None:
    parsed = parse_html(
        '<a href="https://example.com/?a=1&amp;b=2">site</a> '
        '<pre><code class="language-python">x = 1</code></pre>'
    )
    assert parsed.text == "site x = 1"
    assert parsed.entities == [
        Entity("text_link", 0, 4, url="https://example.com/?a=1&b=2"),
        Entity("pre", 5, 5, language="python"),
    ]


def test_nested_entities_and_offsets_in_utf16() -> None:
    parsed = parse_html("😀 <b>bold <i>both</i></b>")
    assert parsed.text == "😀 bold both"
    assert parsed.entities == [Entity("bold", 3, 9), Entity("italic", 8, 4)]


def test_entities_decoded() -> None:
    parsed = parse_html("a &lt;b&gt; &amp; &quot;c&quot; &#65;&#x42; > ok")
    assert parsed.text == 'a <b> & "c" AB > ok'
    assert parsed.entities == []


@pytest.mark.parametrize(
    ("html", "fragment"),
    [
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("héllo <div>", 'Unsupported start tag "div" at byte offset 7'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
        ("a & b", 'Unescaped "&"'),
        ("&nbsp;", 'Unescaped "&"'),
        ("&#0;", 'Unescaped "&"'),
        ("a < b", 'Unsupported start tag ""'),
        ("<br/>", 'Unsupported start tag "br"'),
        ("<span>x</span>", 'must have class "tg-spoiler"'),
        ("<a>x</a>", 'must have attribute "href"'),
        ('<b class="x>y</b>', "Unclosed start tag"),
        ("<b>x</b", "Unclosed end tag"),
        ("<code><b>x</b></code>", 'nested inside "code"'),
        ('<a href="https://a"><a href="https://b">x</a></a>', 'nested inside "a"'),
        ("<blockquote><blockquote>x</blockquote></blockquote>", "blockquote"),
        ("<tg-emoji>x</tg-emoji>", "custom emoji"),
    ],
)
def test_rejections(html: str, fragment: str) -> None:
    with pytest.raises(TelegramHTMLError) as info:
        parse_html(html)
    assert fragment in str(info.value)
    assert str(info.value).startswith("can't parse entities: ")


def test_error_is_value_error() -> None:
    assert issubclass(TelegramHTMLError, ValueError)


def test_plain_length_counts_text_after_parsing() -> None:
    assert plain_length("<b>ab</b>&amp;") == 3
    assert plain_length("😀") == 1
    assert utf16_length("😀") == 2
    with pytest.raises(TelegramHTMLError):
        plain_length("<x>")


def test_empty_entities_dropped() -> None:
    assert parse_html("<b></b>x").entities == []


def test_html_to_terminal() -> None:
    html = (
        "<b>Step 1</b> <i>now</i>\n"
        '<a href="https://shop.tiktok.com">Seller Center</a> '
        '<a href="https://x.y">https://x.y</a>\n'
        "<blockquote>one\ntwo</blockquote>\n<code>a &lt; b</code>"
    )
    assert html_to_terminal(html) == (
        "**Step 1** now\nSeller Center (https://shop.tiktok.com) https://x.y\n> one\n> two\na < b"
    )


def test_html_to_terminal_rejects_bad_html() -> None:
    with pytest.raises(TelegramHTMLError):
        html_to_terminal("<p>x</p>")
