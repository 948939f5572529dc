"""The polls' button data and job keys, each declared once (handlers/keys.py). The wire format
is the one in chats and stores already: ``polls:vote:<poll id>:<option index>``,
``polls.close:<poll id>`` …"""

from __future__ import annotations

from handlers.keys import ButtonKind, JobKey

#: "polls:vote:<poll id>:<option index from 0>": a vote button under a poll message
VOTE = ButtonKind("polls", "vote", ("poll", int), ("option", int))
#: "polls.close:<poll id>": the poll's close (moved by extend, run at once by close)
CLOSE = JobKey("polls.close", "poll")
#: "polls.tidy:<poll id>": the vote buttons taken off a closed poll's message
TIDY = JobKey("polls.tidy", "poll")
#: "polls.refresh:<poll id>:<epoch seconds>": one trailing edit of the poll message
REFRESH = JobKey("polls.refresh", "poll", "at")
#: "polls.copies:<poll id>": post an area poll in the area's chats it could not be posted in yet
COPIES = JobKey("polls.copies", "poll")
#: "polls.copies:<poll id>:<chat key>" and "polls.result:<poll id>:<chat key>": an area poll's post,
#: and its result, in one chat it could not reach at first: one job per chat, so a chat whose
#: platform is down waits for it (however long) without holding up the others
COPY_IN = JobKey("polls.copies", "poll", "chat")
RESULT_IN = JobKey("polls.result", "poll", "chat")
