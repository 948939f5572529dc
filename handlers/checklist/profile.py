"""Profiles of checklist rounds: plain numbers from answers (no store, no translations).

Per dimension: mean and spread (population standard deviation) of the 1–5 answers, share of yes
among yes/no answers, counts, respondents. Free-text answers carry the author's name only when
the respondent agreed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from handlers.checklist.format import YES, Checklist


@dataclass(frozen=True)
class AnswerRow:
    person: str
    question: str
    value: Any
    skipped: bool = False


@dataclass(frozen=True)
class Respondent:
    name: str = ""
    show_name: bool = False
    done: bool = False


@dataclass
class DimensionStats:
    id: str
    scale_n: int = 0
    mean: float | None = None
    spread: float | None = None
    yes_n: int = 0  # yes/no answers
    yes_share: float | None = None
    answers: int = 0  # every non-skipped answer in the dimension
    respondents: int = 0


@dataclass
class Profile:
    respondents: int
    finished: int
    dimensions: list[DimensionStats]
    #: question id -> option id -> count (single and multi choices)
    choices: dict[str, dict[str, int]] = field(default_factory=dict)
    #: (question id, text, author name or None)
    texts: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: the figures are left out: too few respondents to show them without revealing someone's answers
    withheld: int = 0

    def shown(self, minimum: int) -> Profile:
        """The profile as others may see it: with fewer than ``minimum`` respondents (but some) only
        the counts of respondents, no figures, choices or written answers (``withheld`` = minimum)."""
        if not 0 < self.respondents < minimum:
            return self
        return Profile(respondents=self.respondents, finished=self.finished, dimensions=[], withheld=minimum)

    def dimension(self, did: str) -> DimensionStats | None:
        return next((d for d in self.dimensions if d.id == did), None)


def compute_profile(checklist: Checklist, answers: list[AnswerRow], people: dict[str, Respondent]) -> Profile:
    questions = {q.id: q for q in checklist.questions}
    by_dim: dict[str, list[AnswerRow]] = {d.id: [] for d in checklist.dimensions}
    choices: dict[str, dict[str, int]] = {
        q.id: {o.id: 0 for o in q.options} for q in checklist.questions if q.type in ("single", "multi")}
    texts: list[tuple[str, str, str | None]] = []
    answered: set[str] = set()
    for row in answers:
        q = questions.get(row.question)
        if q is None or row.skipped or row.value is None or not q.valid_value(row.value):
            continue
        answered.add(row.person)
        by_dim[q.dimension].append(row)
        if q.type == "single":
            choices[q.id][row.value] += 1
        elif q.type == "multi":
            for v in row.value:
                choices[q.id][v] += 1
        elif q.type == "text" and row.value.strip():
            who = people.get(row.person, Respondent())
            texts.append((q.id, row.value.strip(), who.name if who.show_name and who.name else None))
    dims = []
    for d in checklist.dimensions:
        rows = by_dim[d.id]
        scale = [r.value for r in rows if questions[r.question].type == "scale"]
        yesno = [r.value for r in rows if questions[r.question].type == "yesno"]
        stats = DimensionStats(id=d.id, scale_n=len(scale), yes_n=len(yesno), answers=len(rows),
                               respondents=len({r.person for r in rows}))
        if scale:
            stats.mean = statistics.fmean(scale)
            stats.spread = statistics.pstdev(scale)
        if yesno:
            stats.yes_share = sum(1 for v in yesno if v == YES) / len(yesno)
        dims.append(stats)
    finished = sum(1 for p, r in people.items() if r.done and p in answered)
    return Profile(respondents=len(answered), finished=finished, dimensions=dims, choices=choices, texts=texts)
