"""The vocabulary (data/vocabulary/*.toml): every table has every language, and no word of one
table means two things."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from core import vocabulary
from core.i18n import LANGUAGES

FILES = sorted(vocabulary.VOCABULARY_DIR.glob("*.toml"))


def _is_language_table(node) -> bool:
    return isinstance(node, dict) and bool(node) and any(k in vocabulary.KEYS for k in node)


def _language_tables(node, path=()):
    """(path, table) of every per-language table in a file."""
    if _is_language_table(node):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _language_tables(value, (*path, key))


def _word_lists(table) -> bool:
    return all(isinstance(v, list) and all(isinstance(w, str) for w in v) for v in table.values())


def _read(path: Path):
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_there_are_vocabulary_files():
    assert {p.stem for p in FILES} >= {"when", "ideas", "polls", "meetings", "checklist", "experiments", "digest", "core"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_table_has_every_language(path):
    tables = list(_language_tables(_read(path)))
    assert tables
    for where, table in tables:
        name = ".".join(where)
        assert set(table) - set(vocabulary.KEYS) == set(), f"{path.name}: {name} has an unknown language"
        missing = [lang for lang in LANGUAGES if lang not in table]
        assert not missing, f"{path.name}: {name} has no {', '.join(missing)}"
        for lang in LANGUAGES:
            assert table[lang] or table.get(vocabulary.ANY), f"{path.name}: {name}.{lang} is empty"


def _ambiguous(entries: dict[str, list[str]]) -> list[str]:
    seen: dict[str, str] = {}
    clashes = []
    for entry, words in entries.items():
        for word in dict.fromkeys(words):
            if word in seen and seen[word] != entry:
                clashes.append(f"{word!r} in {seen[word]} and {entry}")
            seen.setdefault(word, entry)
    return clashes


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_word_means_two_things(path):
    data = _read(path)
    for where, table in _language_tables(data):
        name = ".".join(where)
        if all(isinstance(v, dict) and "names" not in v for v in table.values()):
            # word = value per language: one word, one value
            values: dict[str, object] = {}
            for pairs in table.values():
                for word, value in pairs.items():
                    assert values.setdefault(word, value) == value, f"{path.name}: {name}: {word!r} means two things"
    # entries tables: [table.entry] with words per language
    def walk(node, where=()):
        if isinstance(node, dict) and node and all(_is_language_table(v) and _word_lists(v) for v in node.values()):
            flat = {entry: [w for ws in langs.values() for w in ws] for entry, langs in node.items()}
            assert _ambiguous(flat) == [], f"{path.name}: {'.'.join(where)}"
        elif isinstance(node, dict) and not _is_language_table(node):
            for key, value in node.items():
                walk(value, (*where, key))
    walk(data)


@pytest.mark.parametrize("key, count", [("weekdays", 7), ("months", 12)])
def test_every_language_names_every_day_and_month(key, count):
    by_index: dict[str, set[int]] = {}
    for lang in LANGUAGES:
        spec = vocabulary.table("when", f"{key}.{lang}")
        assert len(spec["names"]) == len(spec["abbreviations"]) == count, f"{key}.{lang}"
        assert spec["endings"], f"{key}.{lang}"
        for i, (name, abbreviations) in enumerate(zip(spec["names"], spec["abbreviations"], strict=True)):
            for word in [name + e for e in spec["endings"]] + abbreviations:
                by_index.setdefault(word, set()).add(i)
    assert {w: ix for w, ix in by_index.items() if len(ix) > 1} == {}


def test_the_check_sees_a_clash():
    assert _ambiguous({"yes": ["kyllä", "ja"], "no": ["ei", "ja"]}) == ["'ja' in yes and no"]
    assert _ambiguous({"top": ["suosituin", "suosituin"]}) == []


def test_read_once():
    assert vocabulary.topic("when") is vocabulary.topic("when")
