"""The checklist's button data and job keys, each declared once (see handlers/keys.py).

The wire format is the one buttons already in chats and jobs already in stores carry:
``checklist:a:<round>:<question>:<value>`` and so on, ``checklist.close:<round>``,
``checklist.remind:<round>:<day>``. Question and option ids are as long as the checklist schema
allows at most (format.py), so the widest answer button still fits Telegram's 64 bytes.
"""

from __future__ import annotations

from handlers.checklist.format import OPTION_ID_CHARS, QUESTION_ID_CHARS
from handlers.keys import ButtonKind, JobKey

#: an answer: 1–5 on a scale, yes/no, or the id of the option chosen
ANSWER = ButtonKind("checklist", "a", ("round", int), ("question", QUESTION_ID_CHARS), ("value", OPTION_ID_CHARS))
#: an option of a multiple choice ticked or unticked
TOGGLE = ButtonKind("checklist", "t", ("round", int), ("question", QUESTION_ID_CHARS), ("option", OPTION_ID_CHARS))
#: a multiple choice done
DONE = ButtonKind("checklist", "d", ("round", int), ("question", QUESTION_ID_CHARS))
SKIP = ButtonKind("checklist", "skip", ("round", int), ("question", QUESTION_ID_CHARS))
BACK = ButtonKind("checklist", "back", ("round", int))
#: pause the answering
STOP = ButtonKind("checklist", "stop", ("round", int))
#: start or continue answering
GO = ButtonKind("checklist", "go", ("round", int))
#: written answers with the person's name (1) or without (0)
NAME = ButtonKind("checklist", "name", ("round", int), ("show", int))

#: the round closes (one job per round)
CLOSE = JobKey("checklist.close", "round")
#: the daily reminder of a round, keyed by its day
REMIND = JobKey("checklist.remind", "round", "day")
