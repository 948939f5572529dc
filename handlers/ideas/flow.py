"""Ideas: capture by command or hashtag, follow an edited message, list, show with history,
move through the lifecycle, edit and withdraw one's own."""

from __future__ import annotations

from core.events import Button
from core.i18n import _, format_date, format_datetime, format_number, ngettext
from core.markup import b, esc
from handlers.base import Context, UserError
from handlers.ideas.cards import refresh_card
from handlers.ideas.keys import PAGE
from handlers.ideas.official import answer_lines
from handlers.ideas.parse import BEST_MATCH, ORDER_WORDS, ListQuery, has_idea_marker, parse_idea
from handlers.ideas.render import STATUS_LABELS, short, status_label, support_buttons, tags_text
from handlers.ideas.threads import activity_line, on_thread_message, post_card
from handlers.router import parse_command
from storage import audit
from storage import ideas as store

PAGE_SIZE = 10
TRANSITIONS = {
    "new": ("discussed", "archived"),
    "discussed": ("experiment", "project", "new", "archived"),
    "experiment": ("done", "discussed", "archived"),
    "project": ("done", "discussed", "archived"),
    "done": ("archived",),
    "archived": ("new",),
    "withdrawn": (),
}


async def get_idea(ctx: Context, session, number: int) -> store.Idea:
    idea = await store.by_number(session, ctx.chat_key, number)
    if idea is None or idea.status == "withdrawn":
        raise UserError(_("There is no idea #{number} in this chat.").format(number=number))
    return idea


async def capture(ctx: Context, text: str, *, by_marker: bool = False) -> None:
    parsed = parse_idea(text, by_marker=by_marker)
    idea = await store.create_idea(
        ctx.db, chat_key=ctx.chat_key, author_key=ctx.sender_key, author_name=ctx.event.sender_name,
        text=parsed.text, tags=list(parsed.tags), search=parsed.search, now=ctx.now(),
        source_message_id=ctx.event.message_id, source_event=ctx.event.event_key,
    )
    # Stored and committed: only now acknowledge. (An event handled again after a restart gets
    # its idea back, not a second one, and the same acknowledgement: keyed, it is sent once.)
    lines = [
        "💡 " + b(_("Idea #{number} saved.").format(number=idea.number)) + " " + esc(short(parsed.text)),
    ]
    if parsed.tags:
        lines.append(_("Tags: {tags}").format(tags=tags_text(parsed.tags)))
    lines.append(esc(_("Support it with 👍 or {command} {number}.").format(command=ctx.cmd("support"), number=idea.number)))
    message_id = await post_card(ctx, idea, parsed.text, "\n".join(lines), support_buttons(idea))  # its thread too
    await store.set_bot_message(ctx.db, idea.id, message_id, ctx.lang)


async def idea_cmd(ctx: Context, args: str) -> None:
    if args.strip().lstrip("#").isdecimal():
        await show_idea(ctx, int(args.strip().lstrip("#")[:9]))
    else:
        await capture(ctx, args)


async def on_message(ctx: Context) -> bool:
    if await on_thread_message(ctx):  # discussion in an idea's own thread: no new idea
        return True
    text = ctx.event.text or ""
    if not has_idea_marker(text):
        return False
    await capture(ctx, text, by_marker=True)
    return True


async def on_edit(ctx: Context) -> None:
    """The author edited the message that posted an idea: the idea follows, and the bot's message
    about it shows the new text. Other edits change nothing."""
    text = ctx.event.text or ""
    command = parse_command(text, ctx.transport.command_prefixes)
    if command is not None:
        if command.name not in set(ctx.services.command("idea").names()) or command.args.lstrip("#").isdecimal():
            return
        text = command.args
    elif not has_idea_marker(text):
        return  # the marker is gone: leave the idea as it was
    async with ctx.db.transaction() as session:
        idea = await store.by_message(session, ctx.chat_key, ctx.event.target_id or "")
        if (idea is None or idea.source_message_id != ctx.event.target_id or idea.author_key != ctx.sender_key
                or idea.status in ("archived", "done", "withdrawn")):
            return
        new = parse_idea(text)  # an edit to something that is no idea is explained, and changes nothing
        if new.text == idea.text and list(new.tags) == idea.tag_list():
            return
        await store.edit_text(session, idea, new.text, list(new.tags), new.search, actor_key=ctx.sender_key,
                              actor_name=ctx.event.sender_name, now=ctx.now())
    await refresh_card(ctx, idea)


async def ideas_cmd(ctx: Context, query: ListQuery) -> None:
    # words are searched in the chat's language (it also ranks) and in the reader's own
    languages = (await ctx.services.chat_language(ctx.chat_key), ctx.lang) if query.words else ()
    async with ctx.db.session() as session:
        ideas, total = await store.list_ideas(
            session, ctx.chat_key, order=query.order, tag=query.tag, status=query.status,
            words=list(query.words), languages=languages, offset=(query.page - 1) * PAGE_SIZE, limit=PAGE_SIZE,
        )
    if not total:
        if query == ListQuery():
            await ctx.reply(esc(_("No ideas yet. Post one with {command} <text> or #idea.").format(command=ctx.cmd("idea"))))
        else:
            await ctx.reply(esc(_("No ideas match.")))
        return
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    if query.page > pages:
        raise UserError(ngettext("There is only {pages} page.", "There are only {pages} pages.", pages).format(
            pages=format_number(pages)))
    title = {"top": _("Most supported ideas"), BEST_MATCH: _("Best matches")}.get(query.order, _("Newest ideas"))
    lines = [b(title) + " " + esc(_("(page {page}/{pages}, {total} in all)").format(
        page=format_number(query.page), pages=format_number(pages), total=format_number(total)))]
    for idea in ideas:
        status = "" if idea.status == "new" else f" [{esc(status_label(idea.status))}]"
        lines.append(f"#{idea.number} {esc(short(idea.text, 70))} · 👍 {idea.support_count}{status}")
    row: list[Button] = []
    if query.page > 1 and (data := _page_data(query, query.page - 1)):
        row.append(Button(_("◀ Previous page"), data))
    if query.page < pages:
        lines.append(esc(_("More: {command} … {page}").format(command=ctx.cmd("ideas"), page=format_number(query.page + 1))))
        if data := _page_data(query, query.page + 1):
            row.append(Button(_("Next page ▶"), data))
    await ctx.reply("\n".join(lines), (tuple(row),) if row else ())


def _page_data(query: ListQuery, page: int) -> str | None:
    """The data of a button to another page of this list; None when its filters do not fit."""
    try:
        return PAGE.data(order=query.order, tag=query.tag or "", status=query.status or "",
                         words=" ".join(query.words), page=page)
    except ValueError:  # over 64 bytes, or a ':' in the filters
        return None


async def page_button(ctx: Context, args: list[str]) -> None:
    pressed = PAGE.read(args)
    order, status = pressed["order"], pressed["status"]
    await ideas_cmd(ctx, ListQuery(order if order in ORDER_WORDS or order == BEST_MATCH else "new", pressed["tag"] or None,
                                   status if status in STATUS_LABELS else None, tuple(pressed["words"].split()),
                                   pressed["page"]))


async def show_idea(ctx: Context, number: int) -> None:
    async with ctx.db.session() as session:
        idea = await get_idea(ctx, session, number)
        events = await store.history(session, idea.id)
    lines = [
        "💡 " + b(_("Idea #{number}").format(number=idea.number)),
        esc(idea.text),
        esc(_("By {author}, {date} · status: {status} · 👍 {count}").format(
            author=idea.author_name or "?", date=format_date(idea.created_at),
            status=status_label(idea.status), count=format_number(idea.support_count))),
    ]
    if idea.tags:
        lines.append(_("Tags: {tags}").format(tags=tags_text(idea.tag_list())))
    if (activity := await activity_line(ctx, idea)) is not None:
        lines.append(activity)
    lines += await answer_lines(ctx, idea)  # official answers, or the wait for one (handlers/ideas/official.py)
    lines.append(b(_("History")))
    lines.append("• " + esc(_("{when}: posted by {who}").format(when=format_datetime(idea.created_at),
                                                                who=idea.author_name or "?")))
    for ev in events:
        when = format_datetime(ev.at)
        who = ev.actor_name or "?"
        if ev.action == "created":  # stores from before 2026-12 also have the posting as an event
            continue
        if ev.action == "edited":
            text = _("{when}: edited by {who}").format(when=when, who=who)
        else:
            text = _("{when}: {old} → {new} by {who}").format(
                when=when, who=who, old=status_label(ev.from_status or ""), new=status_label(ev.to_status or ""))
        if ev.note and ev.action != "edited":
            text += f" — {ev.note}"
        lines.append("• " + esc(text))
    await ctx.reply("\n".join(lines), support_buttons(idea) if idea.status not in ("archived", "done") else ())


async def status_cmd(ctx: Context, parsed: tuple[int, str, str]) -> None:
    number, status, reason = parsed
    async with ctx.db.transaction() as session:
        idea = await get_idea(ctx, session, number)
        if status == idea.status:
            raise UserError(_("Idea #{number} is already {status}.").format(number=number, status=status_label(status)))
        allowed = TRANSITIONS.get(idea.status, ())
        if status not in allowed:
            raise UserError(_("Idea #{number} is {status}; it can move to: {allowed}.").format(
                number=number, status=status_label(idea.status),
                allowed=", ".join(status_label(s) for s in allowed) or "—"))
        if status == "archived" and not reason:
            raise UserError(_("Give a reason for archiving, for example: {example}").format(
                example=f"{ctx.cmd('status')} {number} {status_label('archived')} " + _("merged with idea 3")))
        old = idea.status
        await store.change_status(session, idea, status, actor_key=ctx.sender_key, actor_name=ctx.event.sender_name,
                                  note=reason, now=ctx.now())
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="idea.status", target=f"idea:{number}",
                           before={"status": old}, after={"status": status, "reason": reason or None}, at=ctx.now())
    text = _("Idea #{number}: {old} → {new}.").format(number=number, old=status_label(old), new=status_label(status))
    if reason:
        text += " " + _("Reason: {reason}").format(reason=reason)
    await ctx.reply(esc(text))
    await refresh_card(ctx, idea)  # the card shows the status; archived or done, no 👍 button


async def _own(ctx: Context, session, number: int) -> store.Idea:
    idea = await get_idea(ctx, session, number)
    await ctx.permit(owner=idea.author_key == ctx.sender_key, number=number)  # the author's (handlers/permissions.py)
    return idea


async def edit_cmd(ctx: Context, parsed: tuple[int, str]) -> None:
    number, text = parsed
    new = parse_idea(text)
    async with ctx.db.transaction() as session:
        idea = await _own(ctx, session, number)
        if idea.status in ("archived", "done"):
            raise UserError(_("Idea #{number} is {status} and can no longer be edited.").format(
                number=number, status=status_label(idea.status)))
        if new.text != idea.text or list(new.tags) != idea.tag_list():  # the same text (a replay): no history
            await store.edit_text(session, idea, new.text, list(new.tags), new.search, actor_key=ctx.sender_key,
                                  actor_name=ctx.event.sender_name, now=ctx.now())
    msg = esc(_("Idea #{number} updated.").format(number=number))
    if new.tags:
        msg += "\n" + _("Tags: {tags}").format(tags=tags_text(new.tags))
    await ctx.reply(msg)
    await refresh_card(ctx, idea)  # the card in the chat shows the new text


async def withdraw_cmd(ctx: Context, number: int) -> None:
    async with ctx.db.transaction() as session:
        idea = await _own(ctx, session, number)
        await store.change_status(session, idea, "withdrawn", actor_key=ctx.sender_key,
                                  actor_name=ctx.event.sender_name, note="", now=ctx.now())
    await ctx.reply(esc(_("Idea #{number} withdrawn.").format(number=number)))
    await refresh_card(ctx, idea)  # the card says so and loses its 👍 button
