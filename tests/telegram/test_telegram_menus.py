"""The command menus on the Bot API (emulated): each configured coordinator's and operator's
private chat gets the menu of their role (handlers/permissions.py), and one Telegram refuses (the
person never wrote to the bot) is skipped without holding up the others."""

from __future__ import annotations

from tests.telegram.emulator import _ApiError


async def test_coordinators_and_operators_get_menus_in_their_private_chats(tg, emu, monkeypatch):
    await emu.wait_call("setMyCommands", 12)  # the three common scopes in four languages
    services = tg.app.services
    services.coordinators = frozenset({"telegram:555", "telegram:556", "matrix:@pm:example.org"})
    services.operators = frozenset({"telegram:557"})
    original = emu._api_setMyCommands

    async def refuse_556(params: dict) -> bool:
        scope = emu._json(params, "scope") or {}
        if scope.get("type") == "chat" and int(scope["chat_id"]) == 556:
            raise _ApiError(400, "Bad Request: chat not found")
        return await original(params)

    monkeypatch.setattr(emu, "_api_setMyCommands", refuse_556)
    await tg.transport.publish_commands()

    def menus(chat_id: int) -> dict[str, set[str]]:
        out = {}
        for call in emu.calls_of("setMyCommands"):
            scope = emu._json(call.params, "scope") or {}
            if scope.get("type") == "chat" and int(scope["chat_id"]) == chat_id:
                out[call.params.get("language_code") or ""] = {c["command"] for c in emu._json(call.params, "commands")}
        return out

    coordinator, operator = menus(555), menus(557)
    assert set(coordinator) == {"", "fi", "sv", "en"} and coordinator == operator  # no operator-only command yet
    assert "yhteenveto" in coordinator["fi"] and "summary" in coordinator["en"]  # a coordinator's, in private
    assert "status" in coordinator["en"] and "mydata" in coordinator["en"]
    assert menus(556) == {}  # refused, skipped
    everyone = {c["command"] for c in emu.commands[("default", "en")]}
    assert "summary" not in everyone and "mydata" not in everyone  # private only
    private = {c["command"] for c in emu.commands[("all_private_chats", "en")]}
    assert "mydata" in private and "summary" not in private
