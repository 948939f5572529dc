"""The experiments' button data and job keys, each declared once (handlers/keys.py)."""

from __future__ import annotations

from handlers.keys import ButtonKind, JobKey

#: "experiments:join:<experiment id>": join the team of an experiment
JOIN = ButtonKind("experiments", "join", ("experiment", int))
#: "experiments:start:<idea id>": start an experiment of an idea (admins)
START = ButtonKind("experiments", "start", ("idea", int))
#: "experiments.ask:<experiment id>:<YYYY-MM-DD>": one scheduled request for values
ASK = JobKey("experiments.ask", "experiment", "day")
