"""The safe HTML subset replies are written in, and helpers to render it.

Allowed tags: b, i, u, s, code, pre, a[href]. Everything else is text and escaped.
Telegram takes it as parse_mode=HTML; Matrix as formatted_body (newlines -> <br>);
the console prints :func:`to_plain`.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

ALLOWED_TAGS = frozenset({"b", "i", "u", "s", "code", "pre", "a"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: invisible characters that can make text masquerade: bidirectional embeddings, overrides and
#: isolates (U+202A–U+202E, U+2066–U+2069), marks (U+200E, U+200F, U+061C), zero-width space and
#: non-joiner, word joiner and invisible operators (U+2060–U+2064), the byte-order mark and the
#: soft hyphen. A zero-width joiner stays after an emoji (👩‍👩‍👧 is one picture), elsewhere it goes.
_INVISIBLE = re.compile(
    "[\u202a-\u202e\u2066-\u2069\u200b\u200c\u200e\u200f\u061c\u2060-\u2064\ufeff\u00ad]"
    "|(?<![\u00a9\u00ae\u203c-\u3299\ufe0f\U0001f000-\U0001faff])\u200d"
)
_CARRIAGE_RETURN = re.compile(r"\r\n?")


def neutralise(text: str) -> str:
    """Text as a person can see it: invisible formatting characters removed and a carriage return
    (``\\r\\n`` or a lone ``\\r``) made a line break. The router applies it to every incoming text,
    name and chat title before features see them; :func:`esc` applies it again for display."""
    if not text:
        return text
    return _INVISIBLE.sub("", _CARRIAGE_RETURN.sub("\n", text))


def esc(text: object) -> str:
    """Escape user text for the HTML subset (strip control and invisible formatting characters;
    see :func:`neutralise`)."""
    return html.escape(_CONTROL.sub("", neutralise(str(text))), quote=True)


def b(text: str) -> str:
    return f"<b>{esc(text)}</b>"


def i(text: str) -> str:
    return f"<i>{esc(text)}</i>"


def code(text: str) -> str:
    return f"<code>{esc(text)}</code>"


_TAG = re.compile(r"<[^>]*>")


def to_plain(markup: str) -> str:
    """Plain text of a reply: tags removed, entities decoded."""
    return html.unescape(_TAG.sub("", markup))


def to_matrix_html(markup: str) -> str:
    return markup.replace("\n", "<br>")


class _Validator(HTMLParser):
    def __init__(self, void: frozenset[str]) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.void = void

    def handle_starttag(self, tag, attrs):
        if tag in self.void and not attrs:
            return
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"tag <{tag}> not allowed")
        if tag == "a" and [k for k, _ in attrs] != ["href"]:
            self.errors.append("<a> needs exactly href")
        if tag != "a" and attrs:
            self.errors.append(f"<{tag}> has attributes")
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if "<" in data or ">" in data:
            self.errors.append("raw angle bracket in text")

    def handle_entityref(self, name):
        if name not in ("amp", "lt", "gt", "quot"):
            self.errors.append(f"entity &{name}; not supported by Telegram")


def validate(markup: str, *, matrix: bool = False) -> list[str]:
    """Problems that would make Telegram HTML (or, with ``matrix``, Matrix HTML with its
    ``<br>`` line breaks) misrender ``markup``."""
    if re.search(r"&(?!(amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);)", markup):
        return ["bare ampersand"]
    v = _Validator(frozenset({"br"}) if matrix else frozenset())
    v.feed(markup)
    v.close()
    if v.stack:
        v.errors.append(f"unclosed {v.stack}")
    return v.errors


def split(markup: str, limit: int) -> list[str]:
    """Split a long reply at line boundaries (tags never span lines in our replies)."""
    if len(markup) <= limit:
        return [markup]
    parts: list[str] = []
    current = ""
    for line in markup.split("\n"):
        while len(line) > limit:  # a single over-long line: cut outside entities
            cut = limit
            amp = line.rfind("&", 0, cut)
            if amp != -1 and ";" not in line[amp:cut]:
                cut = amp
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts
