"""The log command and the coordinators' export."""

from __future__ import annotations

from core import vocabulary
from handlers.audit.render import log_page
from handlers.base import Context, Services
from storage import audit

PER_PAGE = 10


async def log_cmd(ctx: Context, page: int) -> None:
    async with ctx.db.session() as session:
        rows, total = await audit.page(session, ctx.chat_key, page=page, per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    page_word = vocabulary.table("core", "page").get(ctx.lang, ["page"])[0]  # "sivu", "sida", "page"
    await ctx.reply(log_page(rows, total, page, pages, f"{ctx.cmd('auditlog')} {page_word} {page + 1}"))


async def export_audit(services: Services, chat_keys: list[str] | None, public: bool) -> list[dict]:
    """Every recorded action of these chats, oldest first; nothing in a public export (it names people)."""
    if public:
        return []
    async with services.db.session() as session:
        rows = await audit.events(session, chat_keys)
    return [{"id": ev.id, "chat_key": ev.chat_key, "at": ev.at, "actor_key": ev.actor_key,
             "actor_name": ev.actor_name, "action": ev.action, "target": ev.target,
             "before": ev.before_data(), "after": ev.after_data()} for ev in rows]
