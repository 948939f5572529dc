"""Invites (from allowed inviters only), leaving a room the bot is alone in, private chats,
member counts and roles (power levels; the creators of room version 12 and later).

A part of :class:`bot.matrix.transport.MatrixTransport`, whose ``__init__`` makes the state used here."""

from __future__ import annotations

import logging
from typing import Any

from nio import (
    InviteMemberEvent,
    JoinedMembersResponse,
    JoinError,
    RoomCreateResponse,
    RoomGetStateResponse,
)
from nio.api import RoomPreset

from core.events import Role

log = logging.getLogger("bot.matrix")


def allowed_inviter(sender: str, allowed: list[str]) -> bool:
    for rule in allowed:
        if rule == "*" or rule == sender or (rule.startswith(":") and sender.endswith(rule)):
            return True
    return False



def room_admins(create_sender: str | None, create_content: dict, room_version: str) -> set[str]:
    """Users who are room creators with unlimited power (room version 12 and later)."""
    try:
        modern = int(room_version) >= 12
    except (TypeError, ValueError):
        modern = False
    if not modern:
        return set()
    creators = {create_sender} if create_sender else set()
    creators.update(u for u in create_content.get("additional_creators", []) if isinstance(u, str))
    return creators



class Rooms:
    """Invites, leaving an empty room, private chats, members and roles."""

    # -- invites and rooms --------------------------------------------------------------------

    async def _on_invite(self, room_id: str, info: Any) -> None:
        if room_id in self._joining or self.client is None:
            return
        inviter = None
        for ev in getattr(info, "invite_state", []):
            if isinstance(ev, InviteMemberEvent) and ev.state_key == self.bot_username and ev.membership == "invite":
                inviter = ev.sender
        self._joining.add(room_id)
        try:
            if inviter and allowed_inviter(inviter, self.cfg.allowed_inviters):
                resp = await self.client.join(room_id)
                if isinstance(resp, JoinError):
                    log.warning("matrix: joining %s failed: %s", room_id, resp)
                else:
                    log.info("matrix: joined %s on invitation by %s", room_id, inviter)
            else:
                log.info("matrix: declined invitation to %s by %s", room_id, inviter)
                await self.client.room_leave(room_id)
        finally:
            self._joining.discard(room_id)

    async def _leave_if_alone(self, room_id: str) -> None:
        """Leave (and forget) a room once everybody else has left it."""
        assert self.client is not None
        resp = await self.client.joined_members(room_id)
        if not isinstance(resp, JoinedMembersResponse) or len(resp.members) > 1:
            return
        log.info("matrix: leaving %s, nobody else is there", room_id)
        await self.client.room_leave(room_id)
        await self.client.room_forget(room_id)


    async def private_chat(self, user_id: str) -> str | None:
        assert self.client is not None
        room_id = self._direct.get(user_id) or await self._state(f"dm:{user_id}")
        if room_id and room_id in self.client.rooms:
            self._direct[user_id] = room_id
            return room_id
        initial = []
        if self.cfg.encryption:
            initial.append({"type": "m.room.encryption", "state_key": "",
                            "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
        resp = await self.client.room_create(is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat,
                                             initial_state=initial)
        if not isinstance(resp, RoomCreateResponse):
            log.warning("matrix: could not open a direct chat with %s: %s", user_id, resp)
            return None
        self._direct[user_id] = resp.room_id
        await self._set_state(f"dm:{user_id}", resp.room_id)
        return resp.room_id

    async def member_count(self, chat_id: str) -> int | None:
        """Joined members of the room, the bot included (used for poll turnout)."""
        assert self.client is not None
        resp = await self.client.joined_members(chat_id)
        return len(resp.members) if isinstance(resp, JoinedMembersResponse) else None

    async def role_of(self, chat_id: str, user_id: str) -> Role:
        assert self.client is not None
        room = self.client.rooms.get(chat_id)
        creators = self._creators.get(chat_id)
        if creators is None:
            creators = set()
            resp = await self.client.room_get_state(chat_id)
            if isinstance(resp, RoomGetStateResponse):
                for ev in resp.events:
                    if ev.get("type") == "m.room.create":
                        content = ev.get("content", {})
                        creators = room_admins(ev.get("sender"), content, str(content.get("room_version", "1")))
                self._creators[chat_id] = creators
        if user_id in creators:
            return Role.ADMIN
        level = room.power_levels.get_user_level(user_id) if room is not None else 0
        return Role.ADMIN if level >= self.cfg.admin_power_level else Role.MEMBER
