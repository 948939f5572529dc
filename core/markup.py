"""The safe HTML subset replies are written in, and helpers to render it.

Allowed tags: b, i, u, s, code, pre, a[href]. Everything else is text and escaped.
Telegram takes it as parse_mode=HTML; Matrix as formatted_body (newlines -> <br>);
the console prints :func:`to_plain`. :func:`validate` is at least as strict as Telegram's parser.
"""

from __future__ import annotations

import html
import re

ALLOWED_TAGS = frozenset({"b", "i", "u", "s", "code", "pre", "a"})
#: C0 controls but tab and line break (a carriage return is made a line break first), DEL, C1 controls
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: invisible characters that can make text masquerade: bidirectional embeddings, overrides and
#: isolates (U+202A–U+202E, U+2066–U+2069), marks (U+200E, U+200F, U+061C), zero-width space and
#: non-joiner, word joiner and invisible operators (U+2060–U+2064), the byte-order mark and the
#: soft hyphen. A zero-width joiner stays after an emoji (👩‍👩‍👧 is one picture), elsewhere it goes.
_INVISIBLE = re.compile(
    "[\u202a-\u202e\u2066-\u2069\u200b\u200c\u200e\u200f\u061c\u2060-\u2064\ufeff\u00ad]"
    "|(?<![\u00a9\u00ae\u203c-\u3299\ufe0f\U0001f000-\U0001faff])\u200d"
)
_CARRIAGE_RETURN = re.compile(r"\r\n?")
#: half of a UTF-16 surrogate pair: a str can hold one (a JSON "\\ud800" escape decodes to it), but it
#: is no character and cannot be encoded as UTF-8 (the store, Telegram and Matrix all refuse it)
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\0\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with a lone surrogate made U+FFFD and without NUL (PostgreSQL refuses it in text):
    for what is kept or looked up but not shown (a button's data, a reaction's key, a poll's
    reference)."""
    if not text or not _UNSTORABLE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text).replace("\0", "")


def neutralise(text: str) -> str:
    """Text as a person can see it: invisible formatting characters and control characters (but tab
    and line break) removed, a carriage return (``\\r\\n`` or a lone ``\\r``) made a line break and
    a lone surrogate made U+FFFD (as a UTF-8 decoder does). The router applies it to every incoming
    text, name and chat title before features see them, so nothing stored (and no file made of it:
    a calendar, a CSV) holds them; :func:`esc` applies it again for display."""
    if not text:
        return text
    text = _CARRIAGE_RETURN.sub("\n", storable(text))
    return _CONTROL.sub("", _INVISIBLE.sub("", text))


def esc(text: object) -> str:
    """Escape user text for the HTML subset (invisible and control characters removed: see
    :func:`neutralise`)."""
    return html.escape(neutralise(str(text)), quote=True)


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


#: one token of the subset: a tag (lower case, attributes in double quotes), an entity, or a bare
#: "<", ">" or "&" (an error: Telegram reads any "<" as the start of a tag)
_TOKEN = re.compile(r'<(/?)([a-z][a-z0-9-]*)((?:\s+[a-z-]+="[^"<>]*")*)\s*>|&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z0-9]+);|[<>&]')
_ATTR = re.compile(r'([a-z-]+)="([^"]*)"')
#: links only to these schemes (Telegram drops other links, Matrix clients strip them)
_LINK_SCHEMES = ("https://", "http://", "tg://", "mailto:")
#: C0 controls but tab and line break, C1 controls, and surrogates: never in a reply
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _charref_problem(ref: str) -> str | None:
    """Why Telegram would not read the numeric reference ``&{ref};`` as its character, if it would
    not: it decodes only 1 to U+10FFFE, at most 7 decimal or 6 hex digits, and refuses a surrogate."""
    hexa = ref.startswith("#x")
    digits = ref[2:] if hexa else ref[1:]
    if len(digits) > (6 if hexa else 7):
        return f"entity &{ref}; too long for Telegram"
    code = int(digits, 16 if hexa else 10)
    if code == 0 or code >= 0x10FFFF:
        return f"entity &{ref}; is no character"
    if 0xD800 <= code <= 0xDFFF:
        return f"entity &{ref}; is half of a surrogate pair"
    return None


def validate(markup: str, *, matrix: bool = False) -> list[str]:
    """Problems that would make Telegram's HTML parse mode (or, with ``matrix``, a Matrix
    ``formatted_body`` with its ``<br>`` line breaks) refuse or misrender ``markup``. Stricter than
    Telegram: only the subset's tags (ALLOWED_TAGS), lower case, no attribute but an ``<a>``'s
    http(s), tg or mailto ``href``; nothing inside ``<code>`` or ``<pre>`` but a ``<code>`` directly in
    ``<pre>``, no tag inside itself (Telegram drops such nested entities); the entities
    ``&amp; &lt; &gt; &quot;`` and numeric ones of a character; no bare ``<``, ``>`` or ``&``; no control
    character or lone surrogate; some visible text (Telegram refuses an empty message)."""
    errors: list[str] = []
    stack: list[str] = []
    if bad := _NOT_TEXT.search(markup):
        errors.append(f"control character or surrogate U+{ord(bad.group()):04X}")
    for m in _TOKEN.finditer(markup):
        closing, tag, attrs, entity = m.group(1), m.group(2), m.group(3), m.group(4)
        if tag is None and entity is None:
            errors.append(f"bare {m.group()!r} at {m.start()}")
        elif entity is not None:
            if entity.startswith("#"):
                if problem := _charref_problem(entity):
                    errors.append(problem)
            elif entity not in ("amp", "lt", "gt", "quot"):
                errors.append(f"entity &{entity}; not supported by Telegram")
        elif matrix and tag == "br":
            if closing or attrs:
                errors.append("<br> takes nothing")
        elif closing:
            if attrs:
                errors.append(f"</{tag}> has attributes")
            if not stack or stack[-1] != tag:
                errors.append(f"unbalanced </{tag}>")
            else:
                stack.pop()
        else:
            pairs = _ATTR.findall(attrs)
            if tag not in ALLOWED_TAGS:
                errors.append(f"tag <{tag}> not allowed")
            elif tag == "a":
                if [k for k, _v in pairs] != ["href"]:
                    errors.append("<a> needs exactly href")
                elif not html.unescape(pairs[0][1]).startswith(_LINK_SCHEMES):
                    errors.append(f"<a> links to {pairs[0][1][:40]!r}, not a web, tg or mail address")
            elif pairs:
                errors.append(f"<{tag}> has attributes")
            if stack and (stack[-1] in ("code", "pre") and not (stack[-1] == "pre" and tag == "code")):
                errors.append(f"<{tag}> inside <{stack[-1]}>")
            elif tag in stack:
                errors.append(f"<{tag}> inside <{tag}>")
            stack.append(tag)
    if stack:
        errors.append(f"unclosed {stack}")
    if not errors and not to_plain(markup).strip():
        errors.append("no visible text (Telegram refuses an empty message)")
    return errors


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
