"""Pure Matrix transport rules (no server), and a smoke run of the benchmark."""

import pytest

from bot.matrix import (
    MatrixTransport,
    allowed_inviter,
    count_choices,
    poll_selections,
    room_admins,
    strip_mention,
)
from core.events import Button, Reply


def test_allowed_inviters():
    assert allowed_inviter("@aino:helka.fi", ["@aino:helka.fi"])
    assert allowed_inviter("@bertil:helka.fi", [":helka.fi"])
    assert not allowed_inviter("@eve:evil.example", [":helka.fi", "@aino:helka.fi"])
    assert allowed_inviter("@anyone:anywhere", ["*"])
    assert not allowed_inviter("@anyone:anywhere", [])


def test_server_rule_needs_the_colon():
    assert not allowed_inviter("@eve:evilhelka.fi", [":helka.fi"])


def test_poll_choices_by_the_spec():
    ids = ["a0", "a1", "a2"]
    assert count_choices(ids, 1, ["a1"]) == (1,)
    assert count_choices(ids, 1, ["a2", "a0"]) == (2,)  # only max_selections count
    assert count_choices(ids, 2, ["a2", "a2", "a0"]) == (2,)  # duplicates once, within the limit
    assert count_choices(ids, 1, ["zz"]) == ()  # unknown answer spoils
    assert count_choices(ids, 3, ["a0", "zz"]) == ()
    assert count_choices(ids, 1, []) == ()
    assert count_choices(ids, 1, None) == ()


def test_poll_selections_both_forms():
    assert poll_selections({"m.selections": ["a1"]}) == ["a1"]
    assert poll_selections({"org.matrix.msc3381.poll.response": {"answers": ["a0"]}}) == ["a0"]
    assert poll_selections({"body": "x"}) is None


def test_room_version_12_creators_are_admins():
    assert room_admins("@aino:x", {"additional_creators": ["@bertil:x"]}, "12") == {"@aino:x", "@bertil:x"}
    assert room_admins("@aino:x", {"creator": "@aino:x"}, "10") == set()  # old rooms: power levels decide
    assert room_admins("@aino:x", {}, "org.example.custom") == set()


def test_strip_mention():
    names = ["@kehrabot:helka.fi", "kehrabot", "Kehräbotti"]
    assert strip_mention("kehrabot: idea penkki", names) == "idea penkki"
    assert strip_mention("Kehräbotti, !ideat", names) == "!ideat"
    assert strip_mention("@kehrabot:helka.fi tue 3", names) == "tue 3"
    assert strip_mention("kehrabotti on kiva", names) is None
    assert strip_mention("hei kehrabot", names) is None


def test_buttons_become_numbered_reaction_keys():
    reply = Reply("<b>Idea #1</b>", buttons=((Button("👍 Tue (0)", "ideas:sup:1"),), (Button("<x>", "ideas:page:2"),)))
    html, keys = MatrixTransport._with_buttons(reply)
    assert html == "<b>Idea #1</b>\n1️⃣ 👍 Tue (0)\n2️⃣ &lt;x&gt;"
    assert keys == [("1️⃣", "ideas:sup:1"), ("2️⃣", "ideas:page:2")]


@pytest.mark.integration
async def test_bench_smoke(synapse, tmp_path):
    from bench.matrix_bench import run

    result = await run(3, 6, 2, tmp_path, server=synapse)
    assert result["lost"] == 0 and result["duplicates"] == 0
    assert result["p50_ms"] > 0 and result["replies_per_s"] > 0
