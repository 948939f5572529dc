"""Button data and job keys are built and read by one declaration each."""

import pytest

from handlers.base import UserError
from handlers.keys import ButtonKind, JobKey


def test_a_button_kind_builds_and_reads_its_data():
    vote = ButtonKind("polls", "vote", ("poll", int), ("option", int))
    assert vote.data(poll=12, option=3) == "polls:vote:12:3"
    assert vote.read(["12", "3"]) == {"poll": 12, "option": 3}
    assert vote.route == "polls:vote"
    for bad in (["12"], ["12", "x"], ["1" * 13, "1"], ["12", "3", "4"]):
        with pytest.raises(UserError):
            vote.read(bad)
    with pytest.raises(ValueError):
        vote.data(poll="12", option=3)


def test_a_button_that_could_outgrow_telegrams_64_bytes_is_refused_when_declared():
    ButtonKind("checklist", "a", ("round", int), ("question", 16), ("option", 16))
    with pytest.raises(ValueError, match="64"):
        ButtonKind("checklist", "a", ("round", int), ("question", 32), ("option", 16))


def test_a_job_key_and_its_prefix_never_match_a_longer_id():
    remind = JobKey("checklist.remind", "round", "day")
    assert remind.key(round=1, day="2026-12-01") == "checklist.remind:1:2026-12-01"
    assert remind.prefix(round=1) == "checklist.remind:1:"
    assert not JobKey("checklist.remind", "round", "day").key(round=12, day="x").startswith(remind.prefix(round=1))
    assert remind.prefix() == "checklist.remind:"
    with pytest.raises(TypeError):
        remind.prefix(day="2026-12-01")  # not a leading field
    with pytest.raises(TypeError):
        remind.key(round=1)
