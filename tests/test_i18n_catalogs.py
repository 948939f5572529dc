"""The catalogs read as one language each: one msgid, one translation; a number shown with a noun
goes through ngettext; numbers shown go through Babel (format_number)."""

from __future__ import annotations

import ast
import re
from collections import defaultdict

import pytest
from babel.messages.pofile import read_po

from bot.i18n_tool import ROOT, SOURCES, extract
from core.i18n import LANGUAGES, LOCALES_DIR

# All domains of a language are merged into one table (core.i18n.Catalogs): a msgid translated two
# ways in two domains would be shown one way or the other depending on load order.


def _catalog_strings(lang: str) -> dict[tuple, dict[str, object]]:
    seen: dict[tuple, dict[str, object]] = defaultdict(dict)
    for po in sorted((LOCALES_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        for msg in catalog:
            if not msg.id:
                continue
            key = (msg.context, msg.id if isinstance(msg.id, str) else tuple(msg.id))
            string = msg.string if isinstance(msg.string, str) else tuple(msg.string)
            seen[key][po.stem] = string
    return seen


@pytest.mark.parametrize("lang", LANGUAGES)
def test_one_msgid_has_one_translation_in_all_catalogs_of_a_language(lang):
    clashes = []
    for (_ctx, msgid), by_domain in _catalog_strings(lang).items():
        if len(set(by_domain.values())) > 1:
            clashes.append(f"{msgid!r}: " + "; ".join(f"{d}: {s!r}" for d, s in sorted(by_domain.items())))
    assert clashes == [], "\n".join(clashes)


# A placeholder followed by a plural English noun ("{count} characters", "at most {limit} days") shows
# a number with a word that agrees with it: such a message must be an ngettext pair.
_PLACEHOLDER_NOUN = re.compile(r"\{(\w+)(?:[:!][^}]*)?\}(?:/\{\w+\})?\s+(?:more\s+|new\s+)?([a-z]+)")
_NOT_NOUNS = {"is", "has", "was", "does", "happens", "means", "publishes", "as", "yes", "this"}


def _plural_noun_after_placeholder(msgid: str) -> list[str]:
    hits = []
    for m in _PLACEHOLDER_NOUN.finditer(msgid):
        word = m.group(2)
        if (word.endswith("s") and word not in _NOT_NOUNS) or word == "people":
            hits.append(m.group(0))
    return hits


def _plural_offenders() -> list[tuple[str, str, str]]:
    offenders = []
    for domain, template in extract().items():
        for msg in template:
            if msg.id and isinstance(msg.id, str):
                for hit in _plural_noun_after_placeholder(msg.id):
                    offenders.append((domain, msg.id, hit))
    return offenders


def test_a_number_with_a_noun_uses_plural_forms():
    offenders = [f"{d}: {m!r} ({h})" for d, m, h in _plural_offenders()]
    assert offenders == [], "use ngettext for:\n" + "\n".join(offenders)


def test_the_plural_check_finds_what_it_should():
    assert _plural_noun_after_placeholder("Digests of week {week}: {count} chats.") == ["{count} chats"]
    assert _plural_noun_after_placeholder("at most {limit} characters") == ["{limit} characters"]
    assert _plural_noun_after_placeholder("you have answered {done}/{total} questions") == ["{done}/{total} questions"]
    assert _plural_noun_after_placeholder("Idea #{number} is {status}.") == []
    assert _plural_noun_after_placeholder("{count} people voted.") == ["{count} people"]


# Placeholders that carry a count or a limit. Their value must be formatted by Babel in the person's
# language (format_number: "10 000" in Finnish and Swedish, "10,000" in English), never str(int).
NUMBER_PLACEHOLDERS = {
    "count", "limit", "days", "hours", "pages", "total", "min", "max", "voters", "members", "answers",
    "started", "finished", "messages", "people", "supports", "changes", "page", "n",
}


def _is_translated_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"_", "ngettext"}


def _unformatted_numbers(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
                and _is_translated_call(node.func.value)):
            continue
        for kw in node.keywords:
            if kw.arg not in NUMBER_PLACEHOLDERS:
                continue
            value = kw.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in {
                "format_number", "format_percent", "str_number"}:
                continue
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                continue
            if isinstance(value, ast.Constant) and isinstance(value.value, int) and abs(value.value) < 1000:
                continue  # a small literal reads the same in every language
            found.append(f"{filename}:{kw.value.lineno}: {kw.arg}={ast.unparse(value)}")
    return found


def test_numbers_in_messages_go_through_babel():
    offenders = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            offenders += _unformatted_numbers(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    assert offenders == [], "wrap in format_number():\n" + "\n".join(offenders)


def test_the_number_check_finds_what_it_should():
    src = 'x = ngettext("{count} a", "{count} b", n).format(count=n)\ny = _("{limit}").format(limit=format_number(5))'
    assert _unformatted_numbers(src, "f.py") == ["f.py:1: count=n"]


def test_glossary_exists_and_names_the_core_terms():
    text = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    for term in ("idea", "support", "poll", "vote", "meeting", "RSVP", "self-assessment", "checklist", "round",
                 "area", "experiment", "digest", "admin"):
        assert term in text, term


# Dates are written by Babel in the person's language (core.i18n.format_date, charts.day_label): a
# zero-padded strftime ("02.12.2026") reads as a machine's date and ignores the language.
_PADDED_DATE = re.compile(r"%d[./-]%m|%m[./-]%d|%d\.%m\.%Y")


def test_no_zero_padded_strftime_dates_in_messages():
    offenders = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if "strftime" in line and _PADDED_DATE.search(line):
                    offenders.append(f"{path.relative_to(ROOT).as_posix()}:{lineno}: {line.strip()}")
    assert offenders == [], "format dates through Babel:\n" + "\n".join(offenders)
