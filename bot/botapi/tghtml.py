"""Validator and renderer for Telegram Bot API HTML parse mode (no telegram import)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ALLOWED_TAGS",
    "Entity",
    "ParsedHTML",
    "TelegramHTMLError",
    "html_to_terminal",
    "parse_html",
    "plain_length",
    "utf16_length",
]

#: Tag name -> Telegram entity type, exactly the tags the Bot API accepts.
ALLOWED_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_SPACE = frozenset(" \t\r\n\f\v")
# Tags whose content may not contain other tags (except <code> directly inside <pre>).
_OPAQUE = frozenset({"code", "pre"})


class TelegramHTMLError(ValueError):
    """Raised for text that Telegram would reject with "can't parse entities"."""

    def __init__(self, reason: str) -> None:
        """Store the bare reason; ``str(err)`` reads like Telegram's description."""
        self.reason = reason
        super().__init__(f"can't parse entities: {reason}")


@dataclass(frozen=True)
class Entity:
    """One message entity; offset and length are in UTF-16 code units like Telegram."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the entity as a Bot API JSON object."""
        data: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            data["url"] = self.url
        if self.language is not None:
            data["language"] = self.language
        if self.custom_emoji_id is not None:
            data["custom_emoji_id"] = self.custom_emoji_id
        return data


@dataclass
class ParsedHTML:
    """Result of :func:`parse_html`: the plain text and its entities."""

    text: str
    entities: list[Entity] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Length of the plain text as counted by :func:`plain_length`."""
        return len(self.text)


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    byte_offset: int
    children: list[_Node | str] = field(default_factory=list)


def utf16_length(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units (Telegram's entity unit)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """Decode the entity starting with ``&`` at ``i``; return (char, next index) or None."""
    end = text.find(";", i + 1, i + 12)
    if end == -1:
        return None
    body = text[i + 1 : end]
    if body in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[body], end + 1
    if not body.startswith("#") or len(body) < 2:
        return None
    digits = body[1:]
    try:
        if digits[0] in "xX":
            if len(digits) < 2:
                return None
            code = int(digits[1:], 16)
        elif digits.isdigit():
            code = int(digits)
        else:
            return None
    except ValueError:
        return None
    if code <= 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), end + 1


def _parse_attrs(text: str, i: int, tag: str, tag_start: int) -> tuple[dict[str, str], int]:
    """Parse attributes from ``i`` up to and including ``>``; return (attrs, next index)."""
    attrs: dict[str, str] = {}
    n = len(text)

    def unclosed() -> TelegramHTMLError:
        return TelegramHTMLError(
            f"Unclosed start tag at byte offset {_byte_offset(text, tag_start)}"
        )

    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise unclosed()
        if text[i] == ">":
            return attrs, i + 1
        name_start = i
        while i < n and text[i] not in _SPACE and text[i] not in "=>":
            i += 1
        name = text[name_start:i].lower()
        if not name or name == "/":
            raise TelegramHTMLError(
                f'Empty attribute name in the tag "{tag}" at byte offset '
                f"{_byte_offset(text, name_start)}"
            )
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise unclosed()
        if text[i] != "=":
            attrs[name] = ""
            continue
        i += 1
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise unclosed()
        if text[i] in "\"'":
            quote = text[i]
            close = text.find(quote, i + 1)
            if close == -1:
                raise unclosed()
            raw = text[i + 1 : close]
            i = close + 1
        else:
            value_start = i
            while i < n and text[i] not in _SPACE and text[i] != ">":
                i += 1
            raw = text[value_start:i]
        attrs[name] = _decode_attr(raw)


def _decode_attr(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "&":
            decoded = _decode_entity(raw, i)
            if decoded is not None:
                out.append(decoded[0])
                i = decoded[1]
                continue
        out.append(raw[i])
        i += 1
    return "".join(out)


def _check_start(text: str, tag: str, attrs: dict[str, str], pos: int, stack: list[_Node]) -> None:
    where = f"at byte offset {_byte_offset(text, pos)}"
    if tag == "span" and attrs.get("class") != "tg-spoiler":
        raise TelegramHTMLError(f'Tag "span" must have class "tg-spoiler" {where}')
    if tag == "a" and not attrs.get("href", "").strip():
        raise TelegramHTMLError(f'Tag "a" must have attribute "href" {where}')
    if tag == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
        raise TelegramHTMLError(
            f"Custom emoji entity must contain a valid custom emoji identifier {where}"
        )
    open_tags = [node.tag for node in stack[1:]]
    if open_tags:
        top = open_tags[-1]
        if top in _OPAQUE and not (top == "pre" and tag == "code"):
            raise TelegramHTMLError(f'Tag "{tag}" can\'t be nested inside "{top}" {where}')
        if tag == "a" and "a" in open_tags:
            raise TelegramHTMLError(f'Tag "a" can\'t be nested inside "a" {where}')
        if tag in _OPAQUE and "a" in open_tags:
            raise TelegramHTMLError(f'Tag "{tag}" can\'t be nested inside "a" {where}')
        if tag == "blockquote" and "blockquote" in open_tags:
            raise TelegramHTMLError(
                f'Tag "blockquote" can\'t be nested inside "blockquote" {where}'
            )


_SPECIAL = re.compile(r"[<&]")


def _parse_tree(text: str) -> _Node:
    """Tokenise Telegram HTML into a tree, raising :class:`TelegramHTMLError` like Telegram."""
    root = _Node("", {}, 0)
    stack = [root]
    buf: list[str] = []
    n = len(text)
    i = 0

    def flush() -> None:
        if buf:
            stack[-1].children.append("".join(buf))
            buf.clear()

    while i < n:
        ch = text[i]
        if ch == "&":
            decoded = _decode_entity(text, i)
            if decoded is None:
                raise TelegramHTMLError(
                    f'Unescaped "&" at byte offset {_byte_offset(text, i)}; use "&amp;"'
                )
            buf.append(decoded[0])
            i = decoded[1]
            continue
        if ch != "<":
            found = _SPECIAL.search(text, i)
            end = found.start() if found else n
            buf.append(text[i:end])
            i = end
            continue
        start = i
        if i + 1 < n and text[i + 1] == "/":
            close = text.find(">", i + 2)
            if close == -1:
                raise TelegramHTMLError(
                    f"Unclosed end tag at byte offset {_byte_offset(text, start)}"
                )
            name = text[i + 2 : close].strip().lower()
            if len(stack) == 1:
                raise TelegramHTMLError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, start)}"
                )
            if name != stack[-1].tag:
                raise TelegramHTMLError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, start)}, "
                    f'expected "</{stack[-1].tag}>", found "</{name}>"'
                )
            flush()
            stack.pop()
            i = close + 1
            continue
        j = i + 1
        while j < n and text[j] in _NAME_CHARS:
            j += 1
        tag = text[i + 1 : j].lower()
        if tag not in ALLOWED_TAGS or (j < n and text[j] not in _SPACE and text[j] != ">"):
            raise TelegramHTMLError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, start)}'
            )
        attrs, i = _parse_attrs(text, j, tag, start)
        _check_start(text, tag, attrs, start, stack)
        flush()
        node = _Node(tag, attrs, _byte_offset(text, start))
        stack[-1].children.append(node)
        stack.append(node)
    flush()
    if len(stack) > 1:
        raise TelegramHTMLError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"'
        )
    return root


def _code_language(node: _Node) -> str | None:
    cls = node.attrs.get("class", "")
    if cls.startswith("language-") and len(cls) > len("language-"):
        return cls[len("language-") :]
    return None


def _collect(
    node: _Node, out: list[str], pos: list[int], entities: list[Entity], in_pre: bool
) -> None:
    start = pos[0]
    language: str | None = None
    for child in node.children:
        if isinstance(child, str):
            out.append(child)
            pos[0] += utf16_length(child)
        else:
            if node.tag == "pre" and child.tag == "code":
                language = language or _code_language(child)
            _collect(child, out, pos, entities, in_pre or node.tag == "pre")
    length = pos[0] - start
    if not node.tag or length == 0:
        return
    if node.tag == "code" and in_pre:
        return
    etype = ALLOWED_TAGS[node.tag]
    if node.tag == "blockquote" and "expandable" in node.attrs:
        etype = "expandable_blockquote"
    entities.append(
        Entity(
            type=etype,
            offset=start,
            length=length,
            url=node.attrs["href"].strip() if node.tag == "a" else None,
            language=language if node.tag == "pre" else None,
            custom_emoji_id=node.attrs["emoji-id"] if node.tag == "tg-emoji" else None,
        )
    )


def parse_html(text: str) -> ParsedHTML:
    """Parse Telegram HTML into plain text and entities.

    Stricter than Telegram in three documented ways: a bare ``&`` that starts no valid entity
    is an error (the Bot API docs require escaping it), ``<a>`` needs ``href``, and nestings
    that Telegram silently drops (anything inside ``code``/``pre`` except ``<pre><code>``,
    links in links, code in links, blockquote in blockquote) are errors.

    Raises:
        TelegramHTMLError: With a Telegram-like description.
    """
    root = _parse_tree(text)
    out: list[str] = []
    entities: list[Entity] = []
    _collect(root, out, [0], entities, in_pre=False)
    entities.sort(key=lambda e: (e.offset, -e.length))
    return ParsedHTML(text="".join(out), entities=entities)


def plain_length(text: str) -> int:
    """Return the message length Telegram checks against its limits (4096 text, 1024 caption).

    Counted as Python code points of the plain text after entity parsing. Telegram counts
    UTF-16 code units, so text with characters outside the BMP (most emoji) counts up to one
    less per such character here; use :func:`utf16_length` on ``parse_html(text).text`` when
    that margin matters.
    """
    return len(parse_html(text).text)


def _render(node: _Node) -> str:
    parts: list[str] = []
    for child in node.children:
        parts.append(child if isinstance(child, str) else _render(child))
    inner = "".join(parts)
    if node.tag in ("b", "strong"):
        if not inner.strip():
            return inner
        stripped = inner.strip()
        lead = inner[: len(inner) - len(inner.lstrip())]
        trail = inner[len(inner.rstrip()) :]
        return f"{lead}**{stripped}**{trail}"
    if node.tag == "a":
        url = node.attrs.get("href", "").strip()
        return url if inner.strip() in ("", url) else f"{inner} ({url})"
    if node.tag == "blockquote":
        body = inner.rstrip("\n")
        trailing = inner[len(body) :]
        return "\n".join(f"> {line}" if line else ">" for line in body.split("\n")) + trailing
    return inner


def html_to_terminal(text: str) -> str:
    """Render Telegram HTML as readable plain terminal text (no ANSI codes).

    Bold becomes ``**x**``, other formatting is dropped, links read ``label (url)`` (just
    the URL when the label is the URL), blockquote lines get a ``> `` prefix, code is kept
    as is and entities are decoded.

    Raises:
        TelegramHTMLError: If the text is not valid Telegram HTML.
    """
    return _render(_parse_tree(text))
