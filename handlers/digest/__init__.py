"""Weekly digests per chat, areas and open-data choices, activity counts, the coordinators' pull.

- ``commands.py`` the declarations: FEATURE, the command table with its subcommands
- ``parse.py`` what people type, read into values (pure), with its words
- ``render.py`` the digest and the settings as the chat reads them (pure)
- ``schedule.py`` when a chat's digest is due (pure)
- ``activity.py`` activity counts and private chats, the digest's activity section
- ``weekly.py`` making and posting the weekly digests: collect, produce, post, sweep
- ``documents.py`` the export documents (digests and raw records; JSON, CSV, Markdown)
- ``flow.py`` the commands' handlers: parse → store → render → reply
"""

from handlers.digest.activity import is_private
from handlers.digest.commands import FEATURE
from handlers.digest.documents import digest_document, export_names, render_export
from handlers.digest.render import MAX_LINES
from handlers.digest.schedule import slot
from handlers.digest.weekly import sweep

__all__ = ["FEATURE", "MAX_LINES", "digest_document", "export_names", "is_private", "render_export", "slot",
           "sweep"]
