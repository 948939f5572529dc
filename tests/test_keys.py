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


def test_free_text_fields_share_what_is_left_and_data_over_64_bytes_is_refused():
    page = ButtonKind("ideas", "page", ("order", 3), ("tag", str), ("words", str), ("page", int))
    assert page.data(order="new", tag="", words="", page=2) == "ideas:page:new:::2"
    assert page.read(["top", "x" * 40, "", "3"]) == {"order": "top", "tag": "x" * 40, "words": "", "page": 3}
    assert page.data(order="new", tag="x" * 40, words="", page=2).count(":") == 5
    for tag, words in (("x" * 40, "y" * 20), ("ä" * 25, "")):  # too long; two bytes a letter
        with pytest.raises(ValueError, match="64"):
            page.data(order="new", tag=tag, words=words, page=2)
    with pytest.raises(ValueError):
        page.data(order="new", tag="a:b", words="", page=2)
