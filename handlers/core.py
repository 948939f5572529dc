"""Core commands: help, language, start."""

from __future__ import annotations

from core import vocabulary
from core.i18n import LANGUAGES, N_, _
from core.markup import b, esc
from handlers.base import Command, Context, Feature, Subcommand, UserError
from handlers.permissions import usable_commands, usable_subcommand
from storage import audit
from storage.core import ensure_chat, set_person_language

LANGUAGE_NAMES = {"fi": "suomi", "sv": "svenska", "en": "English"}
#: /kieli ryhmä sv (data/vocabulary/core.toml)
_CHAT_NAMES = {lang: tuple(words) for lang, words in vocabulary.table("core", "chat").items()}


async def help_cmd(ctx: Context, args: str) -> None:
    """What this person may use here, as the permission table says (handlers/permissions.py)."""
    role, private = await ctx.role(), ctx.event.is_private
    if args:
        name = (args.lstrip("/!").split() or [""])[0].lower()  # "/help /": no name
        cmd = ctx.services.find_command(name)
        if cmd is None:
            raise UserError(_("I don't know the command {command}.").format(command=args.split()[0][:40]))
        lines = [b(ctx.usage(cmd)), esc(_(cmd.help))]
        others = sorted({n for names in cmd.aliases.values() for n in names} - {cmd.shown_name(ctx.lang)})
        if others:
            lines.append(_("Also: {names}").format(names=esc(", ".join(ctx.transport.command_prefixes[0] + n for n in others))))
        for sub in cmd.subcommands:
            if usable_subcommand(cmd, sub, role, private=private):
                lines.append(f"{esc(ctx.usage(cmd, sub))} — {esc(_(sub.help))}")
        await ctx.reply("\n".join(lines))
        return
    lines = [b(_("What I can do here:"))]
    for cmd in usable_commands(ctx.services.features, role, private=private):
        lines.append(f"{esc(ctx.usage(cmd))} — {esc(_(cmd.help))}")
    lines.append("")
    lines.append(esc(_("Ideas can also be posted with #idea in a message. Send {help} <command> for details.").format(help=ctx.cmd("help"))))
    await ctx.reply("\n".join(lines))


def parse_lang(args: str) -> str | None:
    """A language code, or None (show the current one). (``chat`` first is the subcommand.)"""
    words = args.lower().split()
    if not words:
        return None
    code = words[0]
    if code not in LANGUAGES:
        raise UserError(_("I speak Finnish (fi), Swedish (sv) and English (en)."))
    return code


async def lang_cmd(ctx: Context, code: str | None) -> None:
    """``/kieli sv``: the person's language."""
    await _set_language(ctx, False, code)


async def chat_lang_cmd(ctx: Context, code: str | None) -> None:
    """``/kieli ryhmä sv``: the chat's language (admins)."""
    await _set_language(ctx, True, code)


async def _set_language(ctx: Context, for_chat: bool, code: str | None) -> None:
    if code is None:
        await ctx.reply(
            _("Current language: {name}. Choose with {cmd} fi|sv|en, or for the whole chat {cmd} chat fi|sv|en.").format(
                name=LANGUAGE_NAMES[ctx.lang], cmd=ctx.cmd("lang")
            )
        )
        return
    async with ctx.db.transaction() as session:
        if for_chat:
            chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
            await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="chat.language", target="chat",
                               before={"language": chat.language}, after={"language": code}, at=ctx.now())
            chat.language = code
            session.add(chat)
        else:
            await set_person_language(session, ctx.sender_key, ctx.event.sender_name, code)
    ctx.services.forget_languages()
    with ctx.services.locale(code):
        if for_chat:
            await ctx.reply(esc(_("This chat's language is now {name}.").format(name=LANGUAGE_NAMES[code])))
        else:
            # said in the language just chosen, so each catalog names its own language (in the right case)
            await ctx.reply(esc(_("I'll speak English with you now.")))


async def start_cmd(ctx: Context, args: str) -> None:
    await ctx.reply(
        b(_("Hello! I am kehrabot, the assistant of your Kehrä group."))
        + "\n"
        + esc(
            _(
                "I collect the group's ideas, run quick polls, remind you of meetings and help the area "
                "assess itself. Send {help} to see the commands. Post an idea with {idea} <text> or a "
                "message with #idea."
            ).format(help=ctx.cmd("help"), idea=ctx.cmd("idea"))
        )
    )


FEATURE = Feature(
    name="core",
    order=0,
    commands=[
        Command(
            "help", help_cmd, {"fi": ("apua", "ohje"), "sv": ("hjalp",), "en": ("help",)},
            help=N_("list the commands, or explain one"), usage=N_("[command]"),
        ),
        Command(
            "lang", lang_cmd, {"fi": ("kieli",), "sv": ("sprak",), "en": ("lang", "language")},
            help=N_("choose your language (or the chat's: chat fi|sv|en)"), usage=N_("[chat] fi|sv|en"),
            parse=parse_lang,
            subcommands=(Subcommand("chat", chat_lang_cmd, _CHAT_NAMES, help=N_("the whole chat's language"),
                                    usage=N_("fi|sv|en"), parse=parse_lang),),
        ),
        Command(
            "start", start_cmd, {"fi": ("aloita",), "sv": ("starta",), "en": ("start",)},
            help=N_("introduction"), hidden=True,
        ),
    ],
)
