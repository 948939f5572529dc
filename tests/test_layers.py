"""Layers point one way: ``core`` (neutral types, the transport protocol, i18n, markup, clock)
imports nothing of the bot; ``storage`` only ``core``; ``handlers`` (features) ``core`` and
``storage``; ``bot`` (platforms, scheduler, composition root, CLI) may import all. Imports
inside functions count too: a lazy import that points the wrong way is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "core": {"core"},
    "storage": {"core", "storage"},
    "handlers": {"core", "storage", "handlers"},
    "bot": {"core", "storage", "handlers", "bot"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def wrong_way(root: Path = ROOT) -> list[str]:
    bad = []
    for layer, allowed in ALLOWED.items():
        for path in sorted((root / layer).rglob("*.py")):
            for line, module in _imports(path):
                top = module.split(".")[0]
                if top in ALLOWED and top not in allowed:
                    bad.append(f"{path.relative_to(root)}:{line} imports {module}")
    return bad


def test_layers_point_one_way():
    assert wrong_way() == []


def test_the_check_sees_a_wrong_import(tmp_path):
    for layer in ALLOWED:
        (tmp_path / layer).mkdir()
    (tmp_path / "storage" / "x.py").write_text("def f():\n    from handlers.base import Services\n")
    (tmp_path / "core" / "y.py").write_text("import bot.app\n")
    assert wrong_way(tmp_path) == ["core/y.py:1 imports bot.app", "storage/x.py:2 imports handlers.base"]
