"""The console as a newcomer uses it (issue 18): files saved and their paths printed, message ids
that go on across runs, edits that say where they are, :edit, and :lang beside a stored /kieli."""

from pathlib import Path

from tests.test_console import blocks, run_console


def test_files_are_saved_and_their_path_printed(tmp_path):
    out = run_console(tmp_path, ":admin on\n/kokous huomenna klo 18 Pihatalkoot\n/kalenteri\n")
    block = next(b for b in blocks(out) if b.startswith("> /kalenteri"))
    saved = next(line for line in block.splitlines() if line.strip().startswith("saved: "))
    path = Path(saved.split("saved: ", 1)[1])
    assert path.parent == (tmp_path / "data" / "console-files").resolve()
    assert path.suffix == ".ics" and b"BEGIN:VCALENDAR" in path.read_bytes()


def test_message_ids_go_on_in_the_next_run(tmp_path):
    first = run_console(tmp_path, "/idea Yhteinen kasvimaa\n")
    assert "[m2] 💡 Idea #1" in first
    second = run_console(tmp_path, "/idea Kesäterassi\n")
    assert "[m4] 💡 Idea #2" in second and "[m2]" not in second


def test_edit_simulates_a_platform_edit_and_says_where(tmp_path):
    out = run_console(tmp_path, "Kesäterassi kirjaston eteen #idea\n:chat other\n:chat kehra\n"
                                ":edit m1 Kesäterassi ja penkit kirjaston eteen #idea\n:edit m2 väärä\n/idea 1\n")
    b = blocks(out)
    edit = next(x for x in b if x.startswith("> :edit m1"))
    assert "(Aino edited m1 in kehra)" in edit
    assert "[m2 edited] 💡 Idea #1 Kesäterassi ja penkit kirjaston eteen" in edit
    assert "(no message m2 of Aino in kehra to edit)" in next(x for x in b if x.startswith("> :edit m2"))
    assert "Kesäterassi ja penkit kirjaston eteen" in next(x for x in b if x.startswith("> /idea 1"))


async def test_an_edit_elsewhere_names_its_chat():
    import io

    from bot.console import ConsoleTransport
    from core.events import Reply

    out = io.StringIO()
    console = ConsoleTransport(out=out, chat="other")
    await console.edit("kehra", "m14", Reply(html="Kysely suljettu"))  # e.g. a job's edit in another chat
    await console.edit("other", "m15", Reply(html="Täällä"))
    assert out.getvalue().splitlines() == ["[m14 edited → kehra] Kysely suljettu", "[m15 edited] Täällä"]


def test_lang_says_when_a_stored_language_wins(tmp_path):
    out = run_console(tmp_path, ":lang sv\n/kieli en\n:lang sv\n")
    b = blocks(out)
    assert b[0] == "> :lang sv\n  (client language sv)"
    assert b[2] == ("> :lang sv\n  (client language sv; but Aino's language chosen with /kieli, en, wins: "
                    "/kieli sv to change it)")


def test_help_documents_vote_and_edit(tmp_path):
    out = run_console(tmp_path, ":help\n")
    assert ":vote M N" in out and ":edit M TEXT" in out and "console-files" in out
