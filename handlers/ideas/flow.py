"""Ideas: capture by command or hashtag, tags, support, listing, lifecycle."""

from __future__ import annotations

import logging
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.events import Button, Role
from core.i18n import N_, _, current_language, format_date, format_datetime, format_number, ngettext
from core.markup import b, esc
from handlers.base import Command, Context, Feature, Services, UserError
from handlers.router import parse_command
from storage import ideas as store

log = logging.getLogger(__name__)

#: documented limit for an idea's text (README)
MAX_IDEA_CHARS = 1000
MAX_TAGS = 10
PAGE_SIZE = 10
THEMES_FILE = Path(__file__).resolve().parents[2] / "data" / "themes.toml"

IDEA_HASHTAGS = frozenset({"idea", "idé", "ide", "ehdotus", "förslag", "aloite"})
SUPPORT_REACTIONS = frozenset({"👍", "+1", ":+1:", "👍️"})

STATUS_LABELS = {
    "new": N_("new"),
    "discussed": N_("discussed"),
    "experiment": N_("experiment"),
    "project": N_("project"),
    "done": N_("done"),
    "archived": N_("archived"),
    "withdrawn": N_("withdrawn"),
}
#: status words accepted in any of the three languages
STATUS_WORDS = {
    "new": ("new", "uusi", "ny"),
    "discussed": ("discussed", "käsitelty", "kasitelty", "käsittelyssä", "diskuterad", "behandlad"),
    "experiment": ("experiment", "kokeilu", "försök"),
    "project": ("project", "projekti", "projekt"),
    "done": ("done", "valmis", "tehty", "klar", "färdig"),
    "archived": ("archived", "archive", "arkistoitu", "arkistoi", "arkisto", "arkiverad", "arkivera"),
}
TRANSITIONS = {
    "new": ("discussed", "archived"),
    "discussed": ("experiment", "project", "new", "archived"),
    "experiment": ("done", "discussed", "archived"),
    "project": ("done", "discussed", "archived"),
    "done": ("archived",),
    "archived": ("new",),
    "withdrawn": (),
}
ORDER_WORDS = {
    "top": ("top", "popular", "suosituimmat", "suosituin", "suosituimmat", "populära", "mest"),
    "new": ("new", "newest", "latest", "uusimmat", "uusin", "nya", "senaste"),
}


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

_HASHTAG = re.compile(r"(?<![\w#])#(\w[\w-]{0,63})")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ParsedIdea:
    text: str
    tags: tuple[str, ...]
    search: str


def _has_words(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # Unicode category Cc, except tab and newline
_BLANKS = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _clean(text: str) -> str:
    return _BLANK_LINES.sub("\n\n", _BLANKS.sub(" ", _CONTROL.sub("", text))).strip()


def _without_markers(text: str) -> str:
    """The text without its idea markers: a marker before or after the words ("#idea Kasvimaa",
    "Kasvimaa #idea") is dropped; one inside a sentence ("Ett #förslag om trygghet") stays as its
    word, so that the sentence still reads."""
    leading = False

    def replace(m: re.Match) -> str:
        nonlocal leading
        if m.group(1).casefold() not in IDEA_HASHTAGS:
            return m.group(0)
        if not _HASHTAG.sub("", text[: m.start()]).strip():
            leading = True
            return ""
        if not _HASHTAG.sub("", text[m.end():]).strip():
            return ""
        return m.group(1)

    result = _HASHTAG.sub(replace, text)
    return _clean(result.lstrip(" :;,.-–—") if leading else result)


def parse_idea(raw: str, *, by_marker: bool = False) -> ParsedIdea:
    """Text and tags of an idea. Raises UserError for empty, word-less, tag-only or over-long
    ideas. ``by_marker``: the idea came with #idea in a message, not after a command."""
    text = _clean(raw)
    hashtags = [m.group(1).casefold() for m in _HASHTAG.finditer(text)]
    text = _without_markers(text)
    if not text:
        if by_marker:
            raise UserError(_("Write the idea itself in the same message as #idea, for example: {example}").format(
                example="#idea " + _("a summer terrace at the library")))
        raise UserError(_("The idea is empty. Write it after the command, for example: {example}").format(
            example=_("a summer terrace at the library")), show_usage=True)
    first_tag = _HASHTAG.search(text)
    if first_tag and not _has_words(_HASHTAG.sub("", text)):
        raise UserError(_("“{text}” is only tags. Write the idea itself beside them, for example: {example}").format(
            text=_short(text, 60), example=("#idea " if by_marker else "") + _("a flea market in the yard") + " "
            + first_tag.group(0)))
    if len(text) > MAX_IDEA_CHARS:
        raise UserError(
            ngettext("The idea is too long: {count} character, at most {limit}. Shorten it or split it in two.",
                     "The idea is too long: {count} characters, at most {limit}. Shorten it or split it in two.",
                     len(text)).format(count=format_number(len(text)), limit=format_number(MAX_IDEA_CHARS)
            )
        )
    if not _has_words(text):
        raise UserError(_("Please describe the idea in words, not only with symbols or emoji."))
    words = {w.casefold() for w in _WORD.findall(text)}
    words.update(hashtags)
    tags = THEME_INDEX.of_words(words)
    for tag in hashtags:
        if tag in IDEA_HASHTAGS or THEME_INDEX.of_word(tag):
            continue
        if tag not in tags:
            tags.append(tag)
    tags = tags[:MAX_TAGS]
    search = " ".join([text.casefold(), *tags, *(lbl.casefold() for t in tags if t in THEMES_BY_ID
                                                 for lbl in THEMES_BY_ID[t].labels.values())])
    return ParsedIdea(text=text, tags=tuple(tags), search=search)


def tag_label(tag: str) -> str:
    theme = THEMES_BY_ID.get(tag)
    if theme is not None:
        return theme.labels.get(current_language(), theme.labels["en"])
    return "#" + tag


def tags_text(tags: list[str] | tuple[str, ...]) -> str:
    return ", ".join(esc(tag_label(t)) for t in tags)


def status_label(status: str) -> str:
    return _(STATUS_LABELS.get(status, status))


def parse_status_word(word: str) -> str | None:
    word = word.casefold()
    for status, words in STATUS_WORDS.items():
        if word in words:
            return status
    return None


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def parse_number(args: str) -> int:
    word = args.strip().lstrip("#")
    if not word.isdecimal() or len(word) > 9:
        raise UserError(_("Give the idea's number, for example 12."), show_usage=True)
    return int(word)


def parse_number_and_rest(args: str) -> tuple[int, str]:
    head, _sep, rest = args.strip().partition(" ")
    return parse_number(head), rest.strip()


def support_buttons(idea: store.Idea) -> tuple[tuple[Button, ...], ...]:
    label = _("Support")
    return ((Button(f"👍 {label} ({idea.support_count})", f"ideas:sup:{idea.id}"),),)


async def _get(ctx: Context, session, number: int) -> store.Idea:
    idea = await store.by_number(session, ctx.chat_key, number)
    if idea is None or idea.status == "withdrawn":
        raise UserError(_("There is no idea #{number} in this chat.").format(number=number))
    return idea


# --- capture --------------------------------------------------------------------------------


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
        "💡 " + b(_("Idea #{number} saved.").format(number=idea.number)) + " " + esc(_short(parsed.text)),
    ]
    if parsed.tags:
        lines.append(_("Tags: {tags}").format(tags=tags_text(parsed.tags)))
    lines.append(esc(_("Support it with 👍 or {command} {number}.").format(command=ctx.cmd("support"), number=idea.number)))
    message_id = await ctx.reply("\n".join(lines), support_buttons(idea), quote=True)
    await store.set_bot_message(ctx.db, idea.id, message_id, ctx.lang)


async def idea_cmd(ctx: Context, args: str) -> None:
    if args.strip().lstrip("#").isdecimal():
        await show_idea(ctx, int(args.strip().lstrip("#")[:9]))
    else:
        await capture(ctx, args)


async def on_message(ctx: Context) -> bool:
    text = ctx.event.text or ""
    if not _has_idea_marker(text):
        return False
    await capture(ctx, text, by_marker=True)
    return True


def _has_idea_marker(text: str) -> bool:
    """Whether a message carries #idea (or #idé, #ehdotus …), which makes it an idea."""
    return "#" in text and any(m.group(1).casefold() in IDEA_HASHTAGS
                               for m in _HASHTAG.finditer(text[: MAX_IDEA_CHARS * 4]))


async def on_edit(ctx: Context) -> None:
    """The author edited the message that posted an idea: the idea follows, and the bot's message
    about it shows the new text. Other edits change nothing."""
    text = ctx.event.text or ""
    command = parse_command(text, ctx.transport.command_prefixes)
    if command is not None:
        if command.name not in set(ctx.services.command("idea").names()) or command.args.lstrip("#").isdecimal():
            return
        text = command.args
    elif not _has_idea_marker(text):
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
    await _refresh_buttons(ctx, idea)


# --- support --------------------------------------------------------------------------------


async def _support(ctx: Context, idea: store.Idea, session) -> bool:
    if idea.status in ("archived", "withdrawn", "done"):
        raise UserError(_("Idea #{number} is {status} and cannot be supported any more.").format(
            number=idea.number, status=status_label(idea.status)))
    return await store.add_support(session, idea, ctx.sender_key, ctx.now())


#: an idea in these states takes no more support: its card has no 👍 button
CLOSED = ("archived", "done", "withdrawn")


async def _refresh_buttons(ctx: Context, idea: store.Idea, message_id: str | None = None) -> None:
    """Show the idea as it is now on its card (or on ``message_id``): text, status, supporters,
    and the 👍 button while it can be supported. The card is a message in the chat, so it stays
    in the language it was written in (older cards: the chat's), whoever acted."""
    message_id = message_id or idea.bot_message_id
    if not message_id:
        return
    if message_id == idea.bot_message_id:
        lang = idea.card_language or await ctx.services.chat_language(ctx.chat_key)
    else:
        lang = ctx.lang  # another message about it (/idea N) is the asker's
    with ctx.services.locale(lang):
        html, buttons = _card_text(idea), (support_buttons(idea) if idea.status not in CLOSED else ())
    try:
        await ctx.edit(message_id, html, buttons)
    except Exception:  # the message may be gone; the support is stored anyway
        log.info("could not refresh idea message %s in %s", message_id, ctx.chat_key, exc_info=True)


def _card_text(idea: store.Idea) -> str:
    head = "💡 " + b(_("Idea #{number}").format(number=idea.number))
    if idea.status == "withdrawn":
        return head + " " + esc(_("The author has withdrawn this idea."))
    lines = [head + " " + esc(_short(idea.text))]
    if idea.tags:
        lines.append(_("Tags: {tags}").format(tags=tags_text(idea.tag_list())))
    supporters = ngettext("{count} supporter", "{count} supporters", idea.support_count).format(
        count=format_number(idea.support_count))
    if idea.status != "new":
        supporters = _("Status: {status}").format(status=status_label(idea.status)) + " · " + supporters
    lines.append(esc(supporters))
    return "\n".join(lines)


# Each handler stores first and closes its session before talking to the platform.


def _again(ctx: Context) -> bool:
    """The event is handled again (its handling was cut short by a stop): a change found made
    already was most likely made by it, so it is answered as the first time."""
    return ctx.event.replay


async def support_cmd(ctx: Context, number: int) -> None:
    async with ctx.db.transaction() as session:
        idea = await _get(ctx, session, number)
        added = await _support(ctx, idea, session) or _again(ctx)
    if added:
        await ctx.reply(esc(_("👍 You support idea #{number}. Supporters: {count}.").format(number=number, count=format_number(idea.support_count))))
        await _refresh_buttons(ctx, idea)
    else:
        await ctx.reply(esc(_("You already support idea #{number}.").format(number=number)))


async def unsupport_cmd(ctx: Context, number: int) -> None:
    async with ctx.db.transaction() as session:
        idea = await _get(ctx, session, number)
        removed = await store.remove_support(session, idea, ctx.sender_key) or _again(ctx)
    if removed:
        await ctx.reply(esc(_("You no longer support idea #{number}. Supporters: {count}.").format(number=number, count=format_number(idea.support_count))))
        await _refresh_buttons(ctx, idea)
    else:
        await ctx.reply(esc(_("You were not supporting idea #{number}.").format(number=number)))


async def support_button(ctx: Context, args: list[str]) -> None:
    if not args or not args[0].isdecimal():
        raise UserError(_("This button no longer works."))
    async with ctx.db.transaction() as session:
        idea = await store.by_id(session, int(args[0]))
        if idea is None or idea.chat_key != ctx.chat_key or idea.status == "withdrawn":
            raise UserError(_("This idea is no longer available."))
        added = await _support(ctx, idea, session) or _again(ctx)
    if added:
        await ctx.acknowledge(_("👍 You support idea #{number}.").format(number=idea.number))
        if ctx.event.target_id:
            await _refresh_buttons(ctx, idea, ctx.event.target_id)
    else:
        await ctx.acknowledge(_("You already support idea #{number}.").format(number=idea.number))


async def on_reaction(ctx: Context) -> None:
    key = (ctx.event.reaction or "").replace("\ufe0f", "")
    if not any(key.startswith(r) for r in SUPPORT_REACTIONS) or not ctx.event.target_id:
        return
    async with ctx.db.transaction() as session:
        idea = await store.by_message(session, ctx.chat_key, ctx.event.target_id)
        if idea is None or idea.status in ("archived", "withdrawn", "done"):
            return
        if ctx.event.reaction_removed:
            changed = await store.remove_support(session, idea, ctx.sender_key)
        else:
            changed = await store.add_support(session, idea, ctx.sender_key, ctx.now())
    if changed or _again(ctx):  # handled again: the first run may have stopped before the edit
        await _refresh_buttons(ctx, idea)


# --- listing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    order: str = "new"
    tag: str | None = None
    status: str | None = None
    words: tuple[str, ...] = ()
    page: int = 1


#: "sivu 2", "sida 2", "page 2" (a bare number at the end is a page too)
PAGE_WORDS = frozenset({"sivu", "sivulla", "sivua", "s", "sida", "sidan", "page", "p"})


def _page_number(token: str) -> int | None:
    return max(1, int(token)) if token.isascii() and token.isdigit() and len(token) < 6 else None


def parse_list(args: str) -> ListQuery:
    order, tag, status, words, page = "new", None, None, [], 1
    tokens = args.split()
    if tokens and _page_number(tokens[-1]) is not None:
        page = _page_number(tokens.pop()) or 1
        if tokens and tokens[-1].casefold().rstrip(".:") in PAGE_WORDS:
            tokens.pop()
    rest = []
    while tokens:
        token = tokens.pop(0)
        if token.casefold().rstrip(".:") in PAGE_WORDS and tokens and _page_number(tokens[0]) is not None:
            page = _page_number(tokens.pop(0)) or 1
        else:
            rest.append(token)
    for token in rest:
        low = token.casefold()
        if low.startswith("#") and len(low) > 1:
            tag = low[1:64]
            for theme in THEMES:
                if theme.matches(tag) or tag in (lbl.casefold() for lbl in theme.labels.values()):
                    tag = theme.id
            continue
        found = next((o for o, ws in ORDER_WORDS.items() if low in ws), None)
        if found:
            order = found
            continue
        st = parse_status_word(low)
        if st:
            status = st
            continue
        words.append(low[:100])
    return ListQuery(order, tag, status, tuple(words[:10]), page)


async def ideas_cmd(ctx: Context, query: ListQuery) -> None:
    async with ctx.db.session() as session:
        ideas, total = await store.list_ideas(
            session, ctx.chat_key, order=query.order, tag=query.tag, status=query.status,
            words=list(query.words), offset=(query.page - 1) * PAGE_SIZE, limit=PAGE_SIZE,
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
    title = _("Most supported ideas") if query.order == "top" else _("Newest ideas")
    lines = [b(title) + " " + esc(_("(page {page}/{pages}, {total} in all)").format(
        page=format_number(query.page), pages=format_number(pages), total=format_number(total)))]
    for idea in ideas:
        status = "" if idea.status == "new" else f" [{esc(status_label(idea.status))}]"
        lines.append(f"#{idea.number} {esc(_short(idea.text, 70))} · 👍 {idea.support_count}{status}")
    row: list[Button] = []
    if query.page > 1 and (data := _page_data(query, query.page - 1)):
        row.append(Button(_("◀ Previous page"), data))
    if query.page < pages:
        lines.append(esc(_("More: {command} … {page}").format(command=ctx.cmd("ideas"), page=format_number(query.page + 1))))
        if data := _page_data(query, query.page + 1):
            row.append(Button(_("Next page ▶"), data))
    await ctx.reply("\n".join(lines), (tuple(row),) if row else ())


def _page_data(query: ListQuery, page: int) -> str | None:
    data = f"ideas:page:{query.order}:{query.tag or ''}:{query.status or ''}:{' '.join(query.words)}:{page}"
    return data if len(data.encode()) <= 64 and ":" not in "".join(query.words) else None


async def page_button(ctx: Context, args: list[str]) -> None:
    if len(args) != 5 or not (args[4].isascii() and args[4].isdigit()):
        raise UserError(_("This button no longer works."))
    order, tag, status, words, page = args
    await ideas_cmd(ctx, ListQuery(order if order in ORDER_WORDS else "new", tag or None,
                                   status if status in STATUS_LABELS else None, tuple(words.split()), int(page)))


async def show_idea(ctx: Context, number: int) -> None:
    async with ctx.db.session() as session:
        idea = await _get(ctx, session, number)
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


# --- lifecycle ------------------------------------------------------------------------------


def parse_status_args(args: str) -> tuple[int, str, str]:
    number, rest = parse_number_and_rest(args)
    word, _sep, reason = rest.partition(" ")
    if not word:
        raise UserError(_("Say which status: {statuses}.").format(statuses=", ".join(status_label(s) for s in STATUS_WORDS)),
                        show_usage=True)
    status = parse_status_word(word)
    if status is None:
        raise UserError(_("Unknown status “{word}”. Choose one of: {statuses}.").format(
            word=word[:40], statuses=", ".join(status_label(s) for s in STATUS_WORDS)))
    reason = _clean(reason)
    if len(reason) > 500:
        raise UserError(_("Keep the reason under 500 characters."))
    return number, status, reason


async def status_cmd(ctx: Context, parsed: tuple[int, str, str]) -> None:
    number, status, reason = parsed
    async with ctx.db.transaction() as session:
        idea = await _get(ctx, session, number)
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
    text = _("Idea #{number}: {old} → {new}.").format(number=number, old=status_label(old), new=status_label(status))
    if reason:
        text += " " + _("Reason: {reason}").format(reason=reason)
    await ctx.reply(esc(text))
    await _refresh_buttons(ctx, idea)  # the card shows the status; archived or done, no 👍 button


async def _own(ctx: Context, session, number: int) -> store.Idea:
    idea = await _get(ctx, session, number)
    if idea.author_key != ctx.sender_key:
        raise UserError(_("Only the author of idea #{number} can do that.").format(number=number))
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
    await _refresh_buttons(ctx, idea)  # the card in the chat shows the new text


async def withdraw_cmd(ctx: Context, number: int) -> None:
    async with ctx.db.transaction() as session:
        idea = await _own(ctx, session, number)
        await store.change_status(session, idea, "withdrawn", actor_key=ctx.sender_key,
                                  actor_name=ctx.event.sender_name, note="", now=ctx.now())
    await ctx.reply(esc(_("Idea #{number} withdrawn.").format(number=number)))
    await _refresh_buttons(ctx, idea)  # the card says so and loses its 👍 button


# --- weekly digest and export ---------------------------------------------------------------

DIGEST_LIST_MAX = 5


async def ideas_digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    """New ideas with tags, status changes and the most supported open ideas of [start, end)."""
    async with services.db.session() as session:
        new = await store.created_between(session, chat_key, start, end)
        changes = await store.status_changes_between(session, chat_key, start, end)
        supports = await store.supports_between(session, chat_key, start, end)
        if not (new or changes or supports):
            return None
        top = await store.most_supported(session, chat_key)
    return {
        "counts": {"new": len(new), "status_changes": len(changes), "supports": supports},
        "new": [{"number": i.number, "text": _short(i.text, 120), "tags": i.tag_list()} for i in new[:DIGEST_LIST_MAX]],
        "status_changes": [{"number": i.number, "text": _short(i.text, 120), "from": ev.from_status, "to": ev.to_status}
                           for ev, i in changes[:DIGEST_LIST_MAX]],
        "top": [{"number": i.number, "text": _short(i.text, 120), "supports": i.support_count, "status": i.status}
                for i in top],
    }


def render_ideas_digest(data: dict) -> list[str]:
    counts = data.get("counts", {})
    lines = ["💡 " + b(_("Ideas")) + ": " + esc(_("new {new} · status changes {changes} · supports {supports}").format(
        new=format_number(counts.get("new", 0)), changes=format_number(counts.get("status_changes", 0)),
        supports=format_number(counts.get("supports", 0))))]
    for item in data.get("new", []):
        tags = f" ({tags_text(item['tags'])})" if item.get("tags") else ""
        lines.append(f"• #{item['number']} {esc(_short(item['text'], 60))}{tags}")
    more = counts.get("new", 0) - len(data.get("new", []))
    if more > 0:
        lines.append("• " + esc(ngettext("and {count} more", "and {count} more", more).format(count=format_number(more))))
    for item in data.get("status_changes", []):
        lines.append("• " + esc(_("#{number} {old} → {new}").format(
            number=item["number"], old=status_label(item.get("from") or ""), new=status_label(item.get("to") or ""))))
    if data.get("top"):
        lines.append(esc(_("Most supported:")) + " " + ", ".join(
            f"#{item['number']} {esc(_short(item['text'], 40))} 👍 {item['supports']}" for item in data["top"]))
    return lines


async def export_ideas(services: Services, chat_keys: list[str] | None, public: bool) -> list[dict]:
    """Raw idea records; public ones leave out withdrawn ideas, authors and platform ids."""
    async with services.db.session() as session:
        ideas = await store.for_export(session, chat_keys)
    rows = []
    for idea in ideas:
        if public and idea.status == "withdrawn":
            continue
        row = {"number": idea.number, "text": idea.text, "tags": " ".join(idea.tag_list()), "status": idea.status,
               "supports": idea.support_count, "created_at": idea.created_at.isoformat(),
               "updated_at": idea.updated_at.isoformat()}
        if not public:
            row = {"chat_key": idea.chat_key, **row, "author_name": idea.author_name, "author_key": idea.author_key}
        rows.append(row)
    return rows


FEATURE = Feature(
    name="ideas",
    order=50,
    commands=[
        Command("idea", idea_cmd, {"fi": ("idea",), "sv": ("ide",), "en": ("idea",)},
                help=N_("post an idea, or show idea N with its history"), usage=N_("<text> | <number>")),
        Command("ideas", ideas_cmd, {"fi": ("ideat",), "sv": ("ideer",), "en": ("ideas",)},
                help=N_("list ideas: newest, top, #tag, a status or search words"),
                usage=N_("[top] [#tag] [status] [words] [page]"), parse=parse_list),
        Command("support", support_cmd, {"fi": ("tue", "kannata"), "sv": ("stod",), "en": ("support",)},
                help=N_("support an idea"), usage=N_("<number>"), parse=parse_number),
        Command("unsupport", unsupport_cmd, {"fi": ("peru_tuki",), "sv": ("ta_bort_stod",), "en": ("unsupport",)},
                help=N_("withdraw your support"), usage=N_("<number>"), parse=parse_number),
        Command("edit", edit_cmd, {"fi": ("muokkaa",), "sv": ("redigera",), "en": ("edit",)},
                help=N_("edit your own idea"), usage=N_("<number> <new text>"), parse=parse_number_and_rest),
        Command("withdraw", withdraw_cmd, {"fi": ("peru_idea",), "sv": ("aterkalla",), "en": ("withdraw",)},
                help=N_("withdraw your own idea"), usage=N_("<number>"), parse=parse_number),
        Command("status", status_cmd, {"fi": ("tila",), "sv": ("status",), "en": ("status",)},
                help=N_("move an idea: new, discussed, experiment, project, done, archived"),
                usage=N_("<number> <status> [reason]"), parse=parse_status_args, role=Role.ADMIN),
    ],
    buttons={"sup": support_button, "page": page_button},
    on_message=on_message,
    on_reaction=on_reaction,
    on_edit=on_edit,
    digest=ideas_digest,
    render_digest=render_ideas_digest,
    exports={"ideas": export_ideas},
)
