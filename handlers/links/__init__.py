"""Linked people: a person links their identities on two platforms (a Telegram account and a
Matrix user) with a one-time code in private chats, so that area polls and the area's figures
count them once (``/linkitä``, ``/pura_linkitys``). The tables are in storage/links.py."""

from handlers.links.commands import FEATURE

__all__ = ["FEATURE"]
