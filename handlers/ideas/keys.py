"""The ideas' button data, each kind declared once (handlers/keys.py). The wire format is the
one in chats already: ``ideas:sup:<idea id>``, ``ideas:page:<order>:<tag>:<status>:<words>:<page>``."""

from __future__ import annotations

from handlers.keys import ButtonKind, JobKey

#: "ideas:sup:<idea id>": 👍 on an idea's card
SUPPORT = ButtonKind("ideas", "sup", ("idea", int))
#: "ideas:page:new|top|rel:<tag>:<status>:<search words>:<page>": another page of a list (rel: the
#: best match first); the tag and the words share what is left of the 64 bytes (a list whose
#: filters do not fit gets no button)
PAGE = ButtonKind("ideas", "page", ("order", 3), ("tag", str), ("status", 10), ("words", str), ("page", int))

#: "ideas:ans:<idea id>:<status or empty>": begin the official answer (moving the idea to the status)
ANSWER = ButtonKind("ideas", "ans", ("idea", int), ("move", 10))
#: the chat is told and the responsible people are written to once an idea reached its threshold
REFER = JobKey("ideas.refer", "idea")
#: nobody answered in time: the responsible people are reminded
REMIND = JobKey("ideas.remind", "idea")
