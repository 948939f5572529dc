"""Reading ideas and the idea commands: an idea's text and tags, numbers, status words, the
list's filters and page. Pure functions: no store, no transport."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from core import vocabulary
from core.i18n import _, format_number, ngettext
from handlers.base import UserError
from handlers.ideas.render import short, status_label
from handlers.ideas.themes import THEME_INDEX, THEMES, THEMES_BY_ID

#: documented limit for an idea's text (README)
MAX_IDEA_CHARS = 1000
MAX_TAGS = 10
#: the words are data (data/vocabulary/ideas.toml): the hashtags that make an idea, the status
#: words accepted in any of the three languages, the list's order words
IDEA_HASHTAGS = frozenset(vocabulary.words("ideas", "hashtags"))
STATUS_WORDS = vocabulary.entries("ideas", "status")
ORDER_WORDS = vocabulary.entries("ideas", "order")
_HASHTAG = re.compile(r"(?<![\w#])#(\w[\w-]{0,63})")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ParsedIdea:
    text: str
    tags: tuple[str, ...]
    search: str


def _has_words(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # Unicode category Cc, except tab and newline
_BLANKS = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _clean(text: str) -> str:
    return _BLANK_LINES.sub("\n\n", _BLANKS.sub(" ", _CONTROL.sub("", text))).strip()


def _without_markers(text: str) -> str:
    """The text without its idea markers: a marker before or after the words ("#idea Kasvimaa",
    "Kasvimaa #idea") is dropped; one inside a sentence ("Ett #förslag om trygghet") stays as its
    word, so that the sentence still reads."""
    leading = False

    def replace(m: re.Match) -> str:
        nonlocal leading
        if m.group(1).casefold() not in IDEA_HASHTAGS:
            return m.group(0)
        if not _HASHTAG.sub("", text[: m.start()]).strip():
            leading = True
            return ""
        if not _HASHTAG.sub("", text[m.end():]).strip():
            return ""
        return m.group(1)

    result = _HASHTAG.sub(replace, text)
    return _clean(result.lstrip(" :;,.-–—") if leading else result)


def parse_idea(raw: str, *, by_marker: bool = False) -> ParsedIdea:
    """Text and tags of an idea. Raises UserError for empty, word-less, tag-only or over-long
    ideas. ``by_marker``: the idea came with #idea in a message, not after a command."""
    text = _clean(raw)
    hashtags = [m.group(1).casefold() for m in _HASHTAG.finditer(text)]
    text = _without_markers(text)
    if not text:
        if by_marker:
            raise UserError(_("Write the idea itself in the same message as #idea, for example: {example}").format(
                example="#idea " + _("a summer terrace at the library")))
        raise UserError(_("The idea is empty. Write it after the command, for example: {example}").format(
            example=_("a summer terrace at the library")), show_usage=True)
    first_tag = _HASHTAG.search(text)
    if first_tag and not _has_words(_HASHTAG.sub("", text)):
        raise UserError(_("“{text}” is only tags. Write the idea itself beside them, for example: {example}").format(
            text=short(text, 60), example=("#idea " if by_marker else "") + _("a flea market in the yard") + " "
            + first_tag.group(0)))
    if len(text) > MAX_IDEA_CHARS:
        raise UserError(
            ngettext("The idea is too long: {count} character, at most {limit}. Shorten it or split it in two.",
                     "The idea is too long: {count} characters, at most {limit}. Shorten it or split it in two.",
                     len(text)).format(count=format_number(len(text)), limit=format_number(MAX_IDEA_CHARS)
            )
        )
    if not _has_words(text):
        raise UserError(_("Please describe the idea in words, not only with symbols or emoji."))
    words = {w.casefold() for w in _WORD.findall(text)}
    words.update(hashtags)
    tags = THEME_INDEX.of_words(words)
    for tag in hashtags:
        if tag in IDEA_HASHTAGS or THEME_INDEX.of_word(tag):
            continue
        if tag not in tags:
            tags.append(tag)
    tags = tags[:MAX_TAGS]
    search = " ".join([text.casefold(), *tags, *(lbl.casefold() for t in tags if t in THEMES_BY_ID
                                                 for lbl in THEMES_BY_ID[t].labels.values())])
    return ParsedIdea(text=text, tags=tuple(tags), search=search)


def has_idea_marker(text: str) -> bool:
    """Whether a message carries #idea (or #idé, #ehdotus …), which makes it an idea."""
    return "#" in text and any(m.group(1).casefold() in IDEA_HASHTAGS
                               for m in _HASHTAG.finditer(text[: MAX_IDEA_CHARS * 4]))


def parse_status_word(word: str) -> str | None:
    word = word.casefold()
    for status, words in STATUS_WORDS.items():
        if word in words:
            return status
    return None


def parse_number(args: str) -> int:
    word = args.strip().lstrip("#")
    if not word.isdecimal() or len(word) > 9:
        raise UserError(_("Give the idea's number, for example 12."), show_usage=True)
    return int(word)


def parse_number_and_rest(args: str) -> tuple[int, str]:
    head, _sep, rest = args.strip().partition(" ")
    return parse_number(head), rest.strip()


#: the list's order when words are searched and no order was asked: the best match first
BEST_MATCH = "rel"


@dataclass(frozen=True)
class ListQuery:
    order: str = "new"  # "new", "top" (ORDER_WORDS), or BEST_MATCH
    tag: str | None = None
    status: str | None = None
    words: tuple[str, ...] = ()
    page: int = 1


#: "sivu 2", "sida 2", "page 2" (a bare number at the end is a page too)
PAGE_WORDS = frozenset(vocabulary.words("core", "page"))


def _page_number(token: str) -> int | None:
    return max(1, int(token)) if token.isascii() and token.isdigit() and len(token) < 6 else None


#: the last page asked for that is taken as it is; past it a page number is read as this (the
#: list then says how many pages there are)
MAX_PAGE = 99_999


def _named_page(token: str) -> int | None:
    """The number after "sivu": any whole number, the first page at least, at most ``MAX_PAGE``."""
    t = token.strip()
    digits = t[1:] if t[:1] in "+-" else t
    if not (digits.isascii() and digits.isdigit()):
        return None
    if t.startswith("-"):
        return 1
    return MAX_PAGE if len(digits) > 5 else max(1, min(MAX_PAGE, int(digits)))


def parse_list(args: str) -> ListQuery:
    order, tag, status, words, page = None, None, None, [], 1
    tokens = args.split()
    if len(tokens) >= 2 and tokens[-2].casefold().rstrip(".:") in PAGE_WORDS and _named_page(tokens[-1]):
        page = _named_page(tokens.pop()) or 1
        tokens.pop()
    elif tokens and _page_number(tokens[-1]) is not None:
        page = _page_number(tokens.pop()) or 1
        if tokens and tokens[-1].casefold().rstrip(".:") in PAGE_WORDS:
            tokens.pop()
    rest = []
    while tokens:
        token = tokens.pop(0)
        if token.casefold().rstrip(".:") in PAGE_WORDS and tokens and _named_page(tokens[0]) is not None:
            page = _named_page(tokens.pop(0)) or 1
        else:
            rest.append(token)
    for token in rest:
        low = token.casefold()
        if low.startswith("#") and len(low) > 1:
            tag = low[1:64]
            for theme in THEMES:
                if theme.matches(tag) or tag in (lbl.casefold() for lbl in theme.labels.values()):
                    tag = theme.id
            continue
        found = next((o for o, ws in ORDER_WORDS.items() if low in ws), None)
        if found:
            order = found
            continue
        st = parse_status_word(low)
        if st:
            status = st
            continue
        words.append(low[:100])
    return ListQuery(order or (BEST_MATCH if words else "new"), tag, status, tuple(words[:10]), page)


def parse_status_args(args: str) -> tuple[int, str, str]:
    number, rest = parse_number_and_rest(args)
    word, _sep, reason = rest.partition(" ")
    if not word:
        raise UserError(_("Say which status: {statuses}.").format(statuses=", ".join(status_label(s) for s in STATUS_WORDS)),
                        show_usage=True)
    status = parse_status_word(word)
    if status is None:
        raise UserError(_("Unknown status “{word}”. Choose one of: {statuses}.").format(
            word=word[:40], statuses=", ".join(status_label(s) for s in STATUS_WORDS)))
    reason = _clean(reason)
    if len(reason) > 500:
        raise UserError(_("Keep the reason under 500 characters."))
    return number, status, reason
