"""Subcommands are declared in the command tables, like commands: every one has names in fi,
sv and en, a help line, a parser and a role, and every name reaches it through the router's
one rule (``Command.pick``). Help lists them."""

from __future__ import annotations

import ast
from pathlib import Path

from handlers import load_features

LANGS = ("fi", "sv", "en")


def _commands():
    return [cmd for feature in load_features() for cmd in feature.commands]


def test_every_subcommand_is_declared_whole_and_reached_by_each_of_its_names():
    subs = [(cmd, sub) for cmd in _commands() for sub in cmd.subcommands]
    assert subs, "no command declares subcommands"
    for cmd, sub in subs:
        assert set(LANGS) <= set(sub.aliases), (cmd.name, sub.name)
        assert sub.help and sub.handler is not None, (cmd.name, sub.name)
        lead = " ".join(["7"] * cmd.leading)  # the leading words (an experiment's number) come first
        for name in sub.names():
            for written in (name, name.upper()):
                picked, rest = cmd.pick(f"{lead} {written}  more words")
                assert picked is sub and rest == f"{lead} more words".strip(), (cmd.name, sub.name, written)
    for cmd in _commands():
        names = [n.casefold() for sub in cmd.subcommands for n in set(sub.names())]
        assert len(names) == len(set(names)), f"{cmd.name}: a word names two subcommands"
        if cmd.default is not None:
            assert cmd.pick("")[0] is cmd.subcommand(cmd.default)


def test_no_feature_dispatches_subcommand_words_itself():
    """A dict of words to handlers, picked in a feature, is what the tables replace."""
    handlers = {node.name for path in Path("handlers").rglob("*.py")
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.AsyncFunctionDef)}
    found = []
    for path in Path("handlers").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        declared = {id(kw.value) for node in ast.walk(tree)  # Feature(buttons={…}, jobs={…}) are tables too
                    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Feature" for kw in node.keywords}
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict) and id(node) not in declared and len(node.keys) > 2 and all(
                    isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys) and all(
                    isinstance(v, ast.Name) and v.id in handlers for v in node.values):
                found.append(f"{path}:{node.lineno}")
    assert found == []


async def test_help_for_a_command_lists_its_subcommands(bot):
    bot.make_admin("admin")
    out = await bot.say("/help itsearviointi", user="admin", lang="fi")
    assert "/itsearviointi aloita [nimi] [sulkeutuu <milloin>] — aloita kierros" in out[0]
    member = await bot.say("/help checklist", lang="en")
    assert "/checklist skip — skip this question" in member[0]
    assert "/checklist start" not in member[0]  # an admin's subcommand is not offered to a member
