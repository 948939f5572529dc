"""A transport says what it can do (``Capabilities`` in core/transport.py); features ask that
instead of probing the transport with getattr/hasattr."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.console import ConsoleTransport
from bot.matrix import MatrixTransport
from bot.telegram import TelegramTransport
from bot.testing import FakeTransport
from core.transport import Capabilities

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"


@pytest.mark.parametrize("transport", [ConsoleTransport, TelegramTransport, MatrixTransport, FakeTransport()],
                         ids=["console", "telegram", "matrix", "fake"])
def test_every_transport_declares_its_capabilities_and_has_what_it_declares(transport):
    caps = transport.capabilities
    assert isinstance(caps, Capabilities)
    assert callable(getattr(transport, "member_count", None)) or not caps.member_count
    assert callable(getattr(transport, "chat_moved", None)) or not caps.keeps_chat_data


def test_what_the_platforms_can_do():
    assert TelegramTransport.capabilities.native_polls and MatrixTransport.capabilities.native_polls
    assert TelegramTransport.capabilities.keeps_chat_data and not MatrixTransport.capabilities.keeps_chat_data
    assert not ConsoleTransport.capabilities.shows_own_vote  # polls confirm a vote there
    assert TelegramTransport.capabilities.shows_own_vote and MatrixTransport.capabilities.shows_own_vote
    fake = FakeTransport(native_polls=True, members=5)
    assert fake.capabilities.native_polls and fake.capabilities.member_count
    assert not FakeTransport().capabilities.native_polls


def test_features_do_not_probe_transports():
    found = []
    for path in sorted(HANDLERS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr") and node.args
                    and "transport" in ast.unparse(node.args[0]).lower()):
                found.append(f"{path.relative_to(HANDLERS.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert found == [], "ask transport.capabilities instead:\n" + "\n".join(found)
