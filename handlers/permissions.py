"""Who may do what: the one permission table.

Four roles, each one everything the one before it is (``core.events.Role``):

- **member** — anyone in a chat;
- **chat admin** — the platform says so (a Telegram group's administrators, a Matrix room's power
  level); in a private chat a person administers it;
- **coordinator** — configured (``coordinators``), the same in every chat of every area;
- **bot operator** — configured (``operators``): everything a coordinator is. No action is the
  operators' alone yet; an entry with ``Rule(Role.OPERATOR)`` is how one would be made.

Every command (``/name``, its own handler), subcommand (``/name sub``) and button kind
(``feature:action``, its ButtonKind's route) has one entry. The router checks the entry of what it
dispatches (``Context.permit``) before the handler runs. ``tests/test_permissions.py`` fails on a
declaration without an entry and on an entry that names none (``missing``); at start the router
logs them, and a declaration without an entry is for everyone (a test's own command). Two conditions
are only known once the thing is in hand, and stay in this table too:

- ``owner``: someone else may as well — a poll's creator, an idea's author, an experiment's owner
  or team. The router lets everyone through; the handler, with the thing loaded, says whether this
  person owns it: ``await ctx.permit(owner=poll.creator_key == ctx.sender_key)``. ``role=None``:
  only the owner, whatever their role.
- ``setting``: a chat setting raises the role (``/poll settings admins``: only admins start
  polls); the router reads it.

``/help`` and the platforms' command menus list what a person may use (``usable``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from core.events import Role
from core.i18n import N_, _

#: the general refusal for someone below a role
REFUSALS = {
    Role.ADMIN: N_("Only the chat's admins may do this."),
    Role.COORDINATOR: N_("Only project coordinators may do this."),
    Role.OPERATOR: N_("Only the bot's operators may do this."),
}


@dataclass(frozen=True)
class Setting:
    """A chat setting that, at ``value``, raises the role an action needs to ``role``."""

    key: str
    value: str
    default: str
    role: Role
    denied: str  # N_() the refusal then


@dataclass(frozen=True)
class Rule:
    #: the least role that may; None: nobody by role alone, only the owner
    role: Role | None = Role.MEMBER
    #: who else may, whatever their role ("the poll's creator"); the handler tells whether this person is
    owner: str = ""
    setting: Setting | None = None
    #: N_() the refusal (may name fields the handler gives: {number}); empty: the role's general one
    denied: str = ""

    def allows(self, role: Role, *, owner: bool | None = None, raised: bool = False) -> bool:
        """``owner``: whether the person owns the thing (None: not known yet, so an owner rule
        lets them on to the handler); ``raised``: the setting is at its value."""
        need = self.role
        if raised and self.setting is not None and need is not None:
            need = max(need, self.setting.role)
        if need is not None and role >= need:
            return True
        return bool(self.owner) and owner is not False

    def refusal(self, *, raised: bool = False, **details: object) -> str:
        """The refusal in the current language."""
        if raised and self.setting is not None and (self.role is None or self.role < self.setting.role):
            return _(self.setting.denied)
        text = _(self.denied) if self.denied else _(REFUSALS[self.role or Role.ADMIN])
        return text.format(**details) if details else text


MEMBER = Rule(Role.MEMBER)
ADMIN = Rule(Role.ADMIN)

POLL_MANAGERS = Rule(Role.ADMIN, owner="the poll's creator",
                     denied=N_("Only the poll's creator and the chat's admins may do this."))
IDEA_AUTHOR = Rule(None, owner="the idea's author", denied=N_("Only the author of idea #{number} can do that."))
#: the official answer: only the people holding the role that answers the idea's chat (or the
#: configured coordinators, where they answer), whatever their role in the chat
IDEA_ANSWERERS = Rule(None, owner="the people who answer the chat's ideas", denied=N_(
    "Only the people who answer ideas here may answer idea #{number}."))
EXPERIMENT_OWNER = Rule(Role.ADMIN, owner="the experiment's owner")
EXPERIMENT_TEAM = Rule(None, owner="the experiment's team", denied=N_(
    "Only the team of experiment #{number} may do this. Join it with {command} {number}."))

#: action → rule. "/name" a command's own handler, "/name sub" a subcommand, "feature:action" a button.
PERMISSIONS: dict[str, Rule] = {
    # core
    "/help": MEMBER,
    "/lang": MEMBER,  # your own language
    "/lang chat": ADMIN,  # the chat's
    "/start": MEMBER,
    # ideas
    "/idea": MEMBER,
    "/ideas": MEMBER,
    "/ideas threads": Rule(Role.ADMIN, denied=N_("Only the chat's admins may choose whether ideas get threads of their own.")),
    "/support": MEMBER,
    "/unsupport": MEMBER,
    "/edit": IDEA_AUTHOR,
    "/withdraw": IDEA_AUTHOR,
    "/status": ADMIN,
    "ideas:sup": MEMBER,
    "ideas:page": MEMBER,
    "/answer": IDEA_ANSWERERS,
    "ideas:ans": IDEA_ANSWERERS,
    "/threshold": ADMIN,  # set this chat's
    "/threshold show": MEMBER,
    "/threshold area": ADMIN,
    "/threshold off": ADMIN,
    "/threshold remind": ADMIN,
    "/responder show": MEMBER,
    "/responder add": ADMIN,
    "/responder remove": ADMIN,
    # polls
    "/poll": Rule(Role.MEMBER, setting=Setting("polls.create", "admins", "everyone", Role.ADMIN,
                                               N_("In this chat only admins may start polls."))),
    "/poll show": MEMBER,
    "/poll close": POLL_MANAGERS,
    "/poll extend": POLL_MANAGERS,
    "/poll cancel": POLL_MANAGERS,
    "/poll area": Rule(Role.ADMIN, denied=N_("Only the chat's admins may start a poll for the whole area.")),
    "/poll settings": Rule(Role.ADMIN, denied=N_("Only the chat's admins may change who may start polls.")),
    "/polls": MEMBER,
    "polls:vote": MEMBER,
    # meetings
    "/meeting": ADMIN,  # schedule one
    "/meeting show": MEMBER,
    "/meeting propose": ADMIN,  # a time poll
    "/meeting pick": ADMIN,
    "/meetings": MEMBER,
    "/rsvp": MEMBER,
    "/skipmeeting": ADMIN,
    "/movemeeting": ADMIN,
    "/cancelmeeting": ADMIN,
    "/calendar": MEMBER,
    "/calendar subscribe": MEMBER,
    "/calendar new": ADMIN,
    "/meetingsettings": ADMIN,
    "/meetingsettings reminders": ADMIN,
    "/meetingsettings quiet": ADMIN,
    "meetings:rsvp": MEMBER,
    "meetings:time": MEMBER,
    # self-assessment
    "/checklist start": ADMIN,
    "/checklist close": ADMIN,
    "/checklist resume": MEMBER,
    "/checklist stop": MEMBER,
    "/checklist back": MEMBER,
    "/checklist skip": MEMBER,
    "/checklist profile": MEMBER,
    "/checklist compare": MEMBER,
    "/checklist areas": MEMBER,
    "/checklist export": MEMBER,
    "/checklist share": ADMIN,
    "/checklist mode": ADMIN,
    "/checklist list": MEMBER,
    "checklist:a": MEMBER,
    "checklist:t": MEMBER,
    "checklist:d": MEMBER,
    "checklist:skip": MEMBER,
    "checklist:back": MEMBER,
    "checklist:stop": MEMBER,
    "checklist:go": MEMBER,
    "checklist:name": MEMBER,
    # experiments
    "/experiment show": MEMBER,
    "/experiment start": ADMIN,
    "/experiment done": EXPERIMENT_OWNER,
    "/experiment abandon": EXPERIMENT_OWNER,
    "/experiment ask": Rule(Role.ADMIN, owner=EXPERIMENT_TEAM.owner, denied=EXPERIMENT_TEAM.denied),
    "/join": MEMBER,
    "/leave": MEMBER,
    "/phase": EXPERIMENT_TEAM,
    "/indicator": EXPERIMENT_TEAM,
    "/measure": EXPERIMENT_TEAM,
    "experiments:join": MEMBER,
    "experiments:start": ADMIN,
    # digest, areas, open data
    "/digest": ADMIN,  # set the day and time
    "/digest show": MEMBER,
    "/digest on": ADMIN,
    "/digest off": ADMIN,
    "/area": ADMIN,  # set it
    "/area show": MEMBER,
    "/area none": ADMIN,
    "/publish": ADMIN,  # choose
    "/publish show": MEMBER,
    "/publish none": ADMIN,
    "/summary": Rule(Role.COORDINATOR),
    # audit log
    "/auditlog": Rule(Role.ADMIN, denied=N_("Only the chat's admins may read its audit log.")),
    # privacy (private chats only: the declarations say so)
    "/mydata": MEMBER,
    "/forgetme": MEMBER,
    "/forgetme confirm": MEMBER,
    "privacy:forget": MEMBER,
    # linked people (private chats only: the declarations say so)
    "/link": MEMBER,
    "/unlink": MEMBER,
}


def command_action(cmd, sub=None) -> str:
    """The table's key of a command's own handler, or of one of its subcommands."""
    return f"/{cmd.name} {sub.name}" if sub is not None else f"/{cmd.name}"


def rule(action: str) -> Rule:
    """The entry of ``action``; one not in the table is for everyone (see ``missing``)."""
    return PERMISSIONS.get(action, MEMBER)


def declared_actions(features: Iterable) -> Iterator[str]:
    """Every action the features declare: commands with a handler, subcommands, buttons."""
    for feature in features:
        for cmd in feature.commands:
            if cmd.handler is not None:
                yield command_action(cmd)
            for sub in cmd.subcommands:
                yield command_action(cmd, sub)
        for action in feature.buttons:
            yield f"{feature.name}:{action}"


def missing(features: Iterable, table: dict[str, Rule] = PERMISSIONS) -> tuple[list[str], list[str]]:
    """The declarations without an entry, and the entries that name no declaration."""
    declared = set(declared_actions(features))
    return sorted(declared - set(table)), sorted(set(table) - declared)


def usable(cmd, role: Role, *, private: bool) -> bool:
    """Whether someone of ``role`` may use ``cmd`` here at all (its own handler or one of its
    subcommands; an owner rule counts, the person may own the thing): what help and menus list."""
    if cmd.hidden or (cmd.private_only and not private):
        return False
    actions = ([command_action(cmd)] if cmd.handler is not None else []) + [
        command_action(cmd, sub) for sub in cmd.subcommands if not (sub.private_only and not private)]
    return any(rule(a).allows(role, owner=True) for a in actions)


def usable_subcommand(cmd, sub, role: Role, *, private: bool) -> bool:
    if sub.private_only and not private:
        return False
    return rule(command_action(cmd, sub)).allows(role, owner=True)


def usable_commands(features: Iterable, role: Role, *, private: bool) -> list:
    return [cmd for feature in features for cmd in feature.commands if usable(cmd, role, private=private)]
