"""Themes (data/themes.toml): the tags an idea gets from its words, found with one dict lookup
and one prefix test per word."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

THEMES_FILE = Path(__file__).resolve().parents[2] / "data" / "themes.toml"


@dataclass(frozen=True)
class Theme:
    id: str
    labels: dict[str, str]
    exact: frozenset[str]
    prefixes: tuple[str, ...]

    def matches(self, word: str) -> bool:
        return word in self.exact or word.startswith(self.prefixes)


def load_themes(path: Path = THEMES_FILE) -> tuple[Theme, ...]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    themes = []
    for theme_id, spec in data["themes"].items():
        words = [w.casefold() for w in spec["keywords"]] + [theme_id]
        themes.append(
            Theme(
                id=theme_id,
                labels=dict(spec["label"]),
                exact=frozenset(w for w in words if not w.endswith("*")),
                prefixes=tuple(w[:-1] for w in words if w.endswith("*")),
            )
        )
    return tuple(themes)


class ThemeIndex:
    """Which themes a word points to: one dict lookup and one prefix test per word."""

    def __init__(self, themes: tuple[Theme, ...]) -> None:
        self.order = {t.id: i for i, t in enumerate(themes)}
        self.exact: dict[str, set[str]] = {}
        self.by_prefix: dict[str, set[str]] = {}
        for theme in themes:
            for word in theme.exact:
                self.exact.setdefault(word, set()).add(theme.id)
            for prefix in theme.prefixes:
                self.by_prefix.setdefault(prefix, set()).add(theme.id)
        self.prefixes = tuple(self.by_prefix)
        self.lengths = sorted({len(p) for p in self.prefixes})

    def of_word(self, word: str) -> set[str]:
        found = set(self.exact.get(word, ()))
        if self.prefixes and word.startswith(self.prefixes):
            for n in self.lengths:
                found |= self.by_prefix.get(word[:n], set())
        return found

    def of_words(self, words: set[str]) -> list[str]:
        """Theme ids in the themes' own order."""
        found: set[str] = set()
        for word in words:
            found |= self.of_word(word)
        return sorted(found, key=self.order.__getitem__)


THEMES = load_themes()
THEMES_BY_ID = {t.id: t for t in THEMES}
THEME_INDEX = ThemeIndex(THEMES)
