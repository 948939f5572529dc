"""The floor for the Matrix bench: an echo bot written with matrix-nio alone. It logs in with a
password, joins every room it is invited to, and answers every ``m.room.message`` that starts with
"!" from someone else with the same text (``room_send``). No store, no features.

    python bench/echo_matrix.py HOMESERVER USER_ID PASSWORD
"""

from __future__ import annotations

import asyncio
import sys

from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, LoginResponse, MatrixRoom, RoomMessageText


async def main(homeserver: str, user_id: str, password: str) -> None:
    client = AsyncClient(homeserver, user_id, config=AsyncClientConfig(store_sync_tokens=False))
    resp = await client.login(password)
    if not isinstance(resp, LoginResponse):
        raise SystemExit(f"login failed: {resp}")

    async def on_message(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender != client.user_id and event.body.startswith("!"):
            await client.room_send(room.room_id, "m.room.message", {"msgtype": "m.text", "body": event.body})

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    # the first sync skips what was said before the bot started (as bots do), not invites
    client.add_event_callback(on_invite, InviteMemberEvent)
    await client.sync(timeout=0, full_state=True)
    client.add_event_callback(on_message, RoomMessageText)
    print("ready", flush=True)
    try:
        # a timeline slice big enough for a burst: nio does not page back over a limited one
        await client.sync_forever(timeout=5000, full_state=False, sync_filter={"room": {"timeline": {"limit": 1000}}})
    finally:
        await client.close()


if __name__ == "__main__":
    try:
        asyncio.run(main(*sys.argv[1:4]))
    except KeyboardInterrupt:
        pass
