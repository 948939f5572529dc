"""The console transport driven by a script on standard input, as a newcomer would."""

import subprocess
import sys


def run_console(tmp_path, script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "console", *args], input=script, capture_output=True, text=True,
        timeout=120, env={"KEHRABOT_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}, cwd=tmp_path.parent
        if False else None,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def blocks(output: str) -> list[str]:
    return [b for b in output.strip().split("\n\n") if b]


def test_script_gives_one_reply_block_per_message(tmp_path):
    out = run_console(tmp_path, "/idea Kesäterassi kirjaston eteen\n:user Bertil\n:lang sv\n/stod 1\n:press 1\n"
                                ":admin on\n/status 1 diskuterad\n/ideer\n")
    b = blocks(out)
    assert b[0].startswith("> /idea Kesäterassi kirjaston eteen\n[m2] 💡 Idea #1 tallennettu.")
    assert "[1] 👍 Kannata (0)" in b[0]
    assert b[1] == "> :user Bertil\n  (you are now Bertil)"
    assert b[3].startswith("> /stod 1\n[m4] 👍 Du stöder idé #1. Stödjare: 1.")
    assert b[4].startswith("> :press 1\n  (Du stöder redan idé #1.)")
    assert b[6].startswith("> /status 1 diskuterad\n[m6] Idé #1: ny → diskuterad.\n[m2 edited] 💡 Idea #1")
    assert b[7].startswith("> /ideer\n[m8] Nyaste idéer (sida 1/1, totalt 1)\n#1 Kesäterassi kirjaston eteen · 👍 1 [diskuterad]")


def test_state_survives_a_restart_of_the_console(tmp_path):
    run_console(tmp_path, "/idea Yhteinen kasvimaa\n")
    out = run_console(tmp_path, "/ideat\n")
    assert "#1 Yhteinen kasvimaa" in out


def test_broken_input_never_crashes(tmp_path):
    out = run_console(tmp_path, ":press 9\n:vote\n/idea\n\x00\x01\n/" + "x" * 40 + "\n:nonsense\n/ideat\n")
    assert "(no such button)" in out and "Idea on tyhjä." in out and "Ideoita ei vielä ole." in out
