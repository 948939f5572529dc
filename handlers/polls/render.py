"""How a poll looks: the poll message with live counts, its vote buttons, the result, the notes
a voter gets. Pure functions: no store, no transport."""

from __future__ import annotations

from core.events import Button
from core.i18n import _, format_datetime, format_number, format_percent, ngettext
from core.markup import b, esc
from handlers.polls.keys import VOTE
from storage import polls as store

BAR_WIDTH = 10
NAMES_SHOWN = 10


def _bar(share: float) -> str:
    full = round(share * BAR_WIDTH)
    return "▓" * full + "░" * (BAR_WIDTH - full)


def settings_line(poll: store.Poll) -> str:
    parts = []
    if poll.multiple:
        parts.append(ngettext("up to {count} choice", "up to {count} choices", poll.max_choices)
                     .format(count=format_number(poll.max_choices)))
    parts.append(_("anonymous") if poll.anonymous else _("named"))
    if poll.hide_results:
        parts.append(_("results hidden until closed"))
    return " · ".join(parts)


def title(poll: store.Poll) -> str:
    if poll.area:
        title = _("Area poll #{number} · {area}").format(number=poll.number, area=poll.area)
    else:
        title = _("Poll #{number}").format(number=poll.number)
    if poll.idea_id is not None:
        title += " (" + _("about an idea") + ")"
    return title


def _count_lines(options: list[str], counts: list[int], voters: int,
                 names: list[list[str]] | None = None) -> list[str]:
    lines = []
    for n, (option, count) in enumerate(zip(options, counts, strict=True), 1):
        share = count / voters if voters else 0.0
        lines.append(f"{n}. {esc(option)}\n   {_bar(share)} {count} ({esc(format_percent(share))})")
        who = names[n - 1] if names else []
        if who:
            lines.append("   " + esc(", ".join(who[:NAMES_SHOWN]) + (" …" if len(who) > NAMES_SHOWN else "")))
    return lines


def area_lines(poll: store.Poll, merged: int, chats: int = 0) -> list[str]:
    """What an area poll's messages add: that one tally covers every chat, and how many linked
    people voted from two accounts (each counted once, by the latest vote)."""
    lines = []
    if chats:
        lines.append(esc(ngettext("One poll in {count} chat of the area {area}: the counts cover it.",
                                  "One poll in {count} chats of the area {area}: the counts cover them all.",
                                  chats).format(count=format_number(chats), area=poll.area)))
    if merged:
        lines.append(esc(ngettext("{count} person voted in two chats and is counted once, by the latest vote.",
                                  "{count} people voted in two chats and are counted once, by the latest vote.",
                                  merged).format(count=format_number(merged))))
    return lines


def render_open(poll: store.Poll, counts: list[int], voters: int, *, closed: bool = False, minimum: int = 1,
                merged: int = 0, chats: int = 0) -> str:
    """The poll message: options with live counts (unless hidden), settings, closing time. An open
    anonymous poll with fewer than ``minimum`` voters (Services.limits.min_respondents) shows no
    counts yet: with one or two voters they would tell who voted what."""
    lines = ["📊 " + b(title(poll)) + " " + b(poll.question)]
    options = poll.option_list()
    too_few = poll.anonymous and not closed and 0 < voters < minimum
    if (poll.hide_results or too_few) and not closed:
        lines += [f"{n}. {esc(o)}" for n, o in enumerate(options, 1)]
    else:
        lines += _count_lines(options, counts, voters)
    lines.append(esc(settings_line(poll)))
    lines += area_lines(poll, merged, chats)
    if too_few and not poll.hide_results:
        lines.append(esc(ngettext("The counts are shown once {count} person has voted, so that no one's vote can be told.",
                                  "The counts are shown once {count} people have voted, so that no one's vote can be told.",
                                  minimum).format(count=format_number(minimum))))
    if not voters:
        votes = esc(_("Nobody voted.") if closed else _("Nobody has voted yet."))
    else:
        votes = esc(ngettext("{count} has voted.", "{count} have voted.", voters).format(
            count=format_number(voters)))
    if closed:
        lines.append(esc(_("Closed.")) + " " + votes)
    else:
        lines.append(esc(_("Closes {when}.").format(when=format_datetime(poll.close_at))) + " " + votes)
    return "\n".join(lines)


def vote_buttons(poll: store.Poll) -> tuple[tuple[Button, ...], ...]:
    rows = []
    for n, option in enumerate(poll.option_list()):
        label = option if len(option) <= 40 else option[:39] + "…"
        rows.append((Button(f"{n + 1}. {label}", VOTE.data(poll=poll.id, option=n)),))
    return tuple(rows)


def winners(counts: list[int]) -> list[int]:
    top = max(counts, default=0)
    return [i for i, c in enumerate(counts) if c == top] if top else []


def render_result(poll: store.Poll, counts: list[int], voters: int, members: int | None,
                  names: list[list[str]] | None = None, merged: int = 0) -> str:
    options = poll.option_list()
    head = (_("Area poll #{number} · {area} closed:").format(number=poll.number, area=poll.area) if poll.area
            else _("Poll #{number} closed:").format(number=poll.number))
    lines = ["📊 " + b(head) + " " + b(poll.question)]
    lines += _count_lines(options, counts, voters, None if poll.anonymous else names)
    lines += area_lines(poll, merged)
    won = winners(counts)
    known = bool(members and members >= voters)  # a count below the voters is stale or wrong: say nothing
    if not voters:  # one sentence, not "Nobody voted. 0 voters."
        lines.append(esc(ngettext("The chat's only member did not vote.", "None of the chat's {count} members voted.",
                                  members).format(count=format_number(members)) if known
                         else _("Nobody voted.")))
        return "\n".join(lines)
    if len(won) == 1:
        lines.append("🏆 " + esc(_("Winner: {option}").format(option=options[won[0]])))
    else:
        lines.append("🤝 " + esc(_("Tie: {options}").format(options=", ".join(options[i] for i in won))))
    if known:
        lines.append(esc(ngettext("Turnout: {voters} of {members} member ({share}).",
                                  "Turnout: {voters} of {members} members ({share}).", members).format(
            voters=format_number(voters), members=format_number(members),
            share=format_percent(min(1.0, voters / members)))))
    else:
        lines.append(esc(ngettext("{count} person voted.", "{count} people voted.", voters).format(
            count=format_number(voters))))
    return "\n".join(lines)


def vote_note(poll: store.Poll, choices: tuple[int, ...]) -> str:
    options = poll.option_list()
    if not choices:
        return _("Your vote in poll #{number} was withdrawn.").format(number=poll.number)
    if len(choices) == 1:
        return _("Your vote: “{option}”.").format(option=options[choices[0]])
    return _("Your choices: {options}.").format(options=", ".join(options[c] for c in choices))


def invalid_vote(poll: store.Poll, name: str, limit: int) -> str:
    """A native vote the poll does not allow (Telegram's multiple-answer polls have no maximum)."""
    return ngettext("{name}, your vote in poll #{number} was not counted: choose at most {count} option. "
                    "Your earlier vote, if any, still counts.",
                    "{name}, your vote in poll #{number} was not counted: choose at most {count} options. "
                    "Your earlier vote, if any, still counts.", limit).format(
        name=name, number=poll.number, count=format_number(limit))


def outcome_text(options: list[str], counts: list[int]) -> str:
    won = winners(counts)
    if not won:
        return _("nobody voted")
    if len(won) == 1:
        return _("winner: {option}").format(option=options[won[0]])
    return _("tie: {options}").format(options=", ".join(options[i] for i in won))
