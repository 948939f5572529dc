"""Checklist files: the shipped one is valid; broken ones give precise file:line problems."""

import json
import logging
import textwrap
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from bot.cli import main
from handlers.checklist.format import CHECKLIST_DIR, SCHEMA_FILE, check_file, check_text, load_all

T = "{fi: a, sv: b, en: c}"


def doc(questions: str, extra: str = "") -> str:
    head = f"id: t\nversion: 1\ntitle: {T}\n{extra}dimensions:\n  - id: d\n    title: {T}\n    questions:\n"
    return head + textwrap.indent(textwrap.dedent(questions).strip("\n"), "      ") + "\n"


def problems(text: str) -> list[tuple[int, str]]:
    checklist, found = check_text(text, "f.yaml")
    assert (checklist is None) == bool(found)
    return [(p.line, p.message) for p in found]


def test_shipped_checklist_is_valid_and_complete():
    checklist, found = check_file(CHECKLIST_DIR / "kehra.yaml")
    assert found == []
    assert len(checklist.dimensions) == 7
    assert all(3 <= len(d.questions) <= 5 for d in checklist.dimensions)
    assert {q.type for q in checklist.questions} == {"scale", "yesno", "single", "multi", "text"}
    for q in checklist.questions:
        assert all(q.text[lang].strip() for lang in ("fi", "sv", "en"))
        assert len(f"checklist:a:999999999:{q.id}:".encode()) + max([len(o.id) for o in q.options] + [3]) <= 64


def test_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(json.loads(SCHEMA_FILE.read_text()))


def test_valid_minimal_file():
    assert problems(doc(f"""
        - id: q1
          type: yesno
          text: {T}
        - id: q2
          type: text
          required: false
          when: {{question: q1, equals: yes}}
          text: {T}
    """)) == []


def test_missing_translation_with_line():
    text = doc("""
        - id: q1
          type: yesno
          text: {fi: a, en: c}
    """)
    assert problems(text) == [(10, "dimension 'd' question 'q1' text: missing translation 'sv'")]


def test_empty_translation():
    assert problems(doc("""
        - id: q1
          type: yesno
          text: {fi: a, sv: "", en: c}
    """)) == [(10, "dimension 'd' question 'q1' text sv: empty translation")]


def test_unknown_type():
    assert problems(doc(f"""
        - id: q1
          type: slider
          text: {T}
    """)) == [(9, "dimension 'd' question 'q1' type: unknown question type 'slider' "
                  "(use one of scale, yesno, single, multi, text)")]


def test_dangling_and_forward_conditions():
    found = problems(doc(f"""
        - id: q1
          type: yesno
          when: {{question: q2, equals: yes}}
          text: {T}
        - id: q2
          type: yesno
          when: {{question: nosuch, equals: yes}}
          text: {T}
    """))
    assert found == [
        (10, "question 'q1': condition refers to 'q2', which comes later (forward condition)"),
        (14, "question 'q2': condition refers to unknown question 'nosuch'"),
    ]


def test_condition_value_must_be_possible():
    found = problems(doc(f"""
        - id: q1
          type: scale
          low: {T}
          high: {T}
          text: {T}
        - id: q2
          type: text
          when: {{question: q1, in: [4, 6]}}
          text: {T}
    """))
    assert found == [(15, "question 'q2': '6' is not a possible answer of 'q1'")]


def test_duplicate_ids_and_keys():
    found = problems(doc(f"""
        - id: q1
          type: single
          text: {T}
          options:
            - {{id: a, text: {T}}}
            - {{id: a, text: {T}}}
        - id: q1
          type: yesno
          type: yesno
          text: {T}
    """))
    assert found == [
        (13, "question 'q1': duplicate option id 'a'"),
        (14, "duplicate question id 'q1'"),
        (16, "duplicate key 'type'"),
    ]


def test_scale_needs_labelled_ends_and_choices_need_options():
    found = problems(doc(f"""
        - id: q1
          type: scale
          low: {T}
          text: {T}
        - id: q2
          type: multi
          text: {T}
    """))
    assert found == [
        (8, "question 'q1': a scale needs 'high' (the label of its 5)"),
        (12, "question 'q2': a multi choice needs 'options'"),
    ]


def test_yaml_syntax_error_has_a_line():
    found = problems("id: t\nversion: 1\ntitle: {fi: a\n  sv: [b\n")
    assert len(found) == 1 and found[0][1].startswith("YAML syntax error") and found[0][0] >= 3


def test_bad_ids_and_unknown_fields():
    found = problems(doc(f"""
        - id: Q-1
          type: yesno
          text: {T}
          colour: red
    """))
    assert (8, "dimension 'd' question 'Q-1' id: id 'Q-1' must be 1–20 characters a-z, 0-9 or _ (options 1–16)") in found
    assert any(line == 8 and "'colour' was unexpected" in msg for line, msg in found)


def test_broken_file_is_refused_and_logged_others_load(tmp_path, caplog):
    (tmp_path / "good.yaml").write_text((CHECKLIST_DIR / "kehra.yaml").read_text().replace("id: kehra", "id: good", 1))
    (tmp_path / "bad.yaml").write_text("id: bad\nversion: 1\ntitle: {fi: x}\ndimensions: []\n")
    (tmp_path / "worse.yaml").write_text(": : :\n  - [")
    with caplog.at_level(logging.ERROR):
        found = load_all([tmp_path])
    assert set(found) == {"good"}
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 2
    assert any("bad.yaml" in m and "line 3" in m and "missing translation 'sv'" in m for m in refused)


def test_cli_reports_every_problem_and_exits_1(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(doc(f"""
        - id: q1
          type: slider
          text: {{fi: a}}
        - id: q1
          type: yesno
          when: {{question: q0, equals: yes}}
          text: {T}
    """))
    assert main(["checklist", "check", str(CHECKLIST_DIR / "kehra.yaml"), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("kehra.yaml: ok — kehra v1, 7 dimensions, 28 questions")
    assert out[1:] == [
        f"{bad}:9: dimension 'd' question 'q1' type: unknown question type 'slider' (use one of scale, yesno, single, multi, text)",
        f"{bad}:10: dimension 'd' question 'q1' text: missing translation 'en'",
        f"{bad}:10: dimension 'd' question 'q1' text: missing translation 'sv'",
        f"{bad}:11: duplicate question id 'q1'",
        f"{bad}:13: question 'q1': condition refers to unknown question 'q0'",
    ]
    assert main(["checklist", "check", str(CHECKLIST_DIR / "kehra.yaml")]) == 0


@pytest.mark.parametrize("path", sorted(Path(CHECKLIST_DIR).glob("*.yaml")))
def test_every_shipped_checklist_is_valid(path):
    assert check_file(path)[1] == []
