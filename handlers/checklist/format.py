"""Checklists as data: load a YAML file, validate it against ``checklists/schema.json`` and the
rules a schema cannot express, and report every problem with its line number.

Pure functions, no store and no translations (problems are for the file's author, in English).
PyYAML and jsonschema are imported when a file is read, not when the bot starts: a running round
keeps its checklist as JSON in the store (``from_json``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml

log = logging.getLogger(__name__)

CHECKLIST_DIR = Path(__file__).resolve().parents[2] / "checklists"
DEFAULT_CHECKLIST = "kehra"  # the one started when no name is given (checklists/kehra.yaml)
SCHEMA_FILE = CHECKLIST_DIR / "schema.json"
LANGS = ("fi", "sv", "en")
TYPES = ("scale", "yesno", "single", "multi", "text")
YES, NO = "yes", "no"
TEXT_FIELDS = {"title", "intro", "text", "low", "high"}
#: the longest question (and dimension, checklist) id and option id the schema allows
#: (``^[a-z0-9_]{1,20}$``, ``^[a-z0-9_]{1,16}$``): they travel in button data (keys.py)
QUESTION_ID_CHARS = 20
OPTION_ID_CHARS = 16


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    id: str
    text: dict[str, str]


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    text: dict[str, str]
    dimension: str
    required: bool = True
    low: dict[str, str] | None = None
    high: dict[str, str] | None = None
    options: tuple[Option, ...] = ()
    when_question: str | None = None
    when_values: tuple[str, ...] = ()

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    def valid_value(self, value: Any) -> bool:
        if self.type == "scale":
            return isinstance(value, int) and 1 <= value <= 5
        if self.type == "yesno":
            return value in (YES, NO)
        if self.type == "single":
            return isinstance(value, str) and self.option(value) is not None
        if self.type == "multi":
            return isinstance(value, list) and all(isinstance(v, str) and self.option(v) for v in value)
        return isinstance(value, str)


@dataclass(frozen=True)
class Dimension:
    id: str
    title: dict[str, str]
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Checklist:
    id: str
    version: str
    title: dict[str, str]
    dimensions: tuple[Dimension, ...]
    intro: dict[str, str] | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for d in self.dimensions for q in d.questions)

    def question(self, qid: str) -> Question | None:
        return next((q for q in self.questions if q.id == qid), None)

    def dimension(self, did: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.id == did), None)

    def to_json(self) -> str:
        return json.dumps(self.raw, ensure_ascii=False)

    def visible(self, answers: dict[str, Any]) -> list[Question]:
        """The questions asked given these answers (conditions refer only to earlier questions)."""
        shown: list[Question] = []
        shown_ids: set[str] = set()
        for q in self.questions:
            if q.when_question is not None:
                if q.when_question not in shown_ids or not matches(answers.get(q.when_question), q.when_values):
                    continue
            shown.append(q)
            shown_ids.add(q.id)
        return shown


def matches(answer: Any, values: tuple[str, ...]) -> bool:
    if answer is None:
        return False
    if isinstance(answer, list):
        return any(str(a) in values for a in answer)
    return str(answer) in values


def text_in(texts: dict[str, str] | None, lang: str) -> str:
    if not texts:
        return ""
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")


def build(data: dict) -> Checklist:
    """The model of already validated data."""
    dims = []
    for d in data["dimensions"]:
        qs = []
        for q in d["questions"]:
            when = q.get("when") or {}
            values = when.get("in", [when["equals"]] if "equals" in when else [])
            qs.append(Question(
                id=q["id"], type=q["type"], text=dict(q["text"]), dimension=d["id"],
                required=q.get("required", True), low=q.get("low"), high=q.get("high"),
                options=tuple(Option(o["id"], dict(o["text"])) for o in q.get("options", [])),
                when_question=when.get("question"), when_values=tuple(_norm(v) for v in values),
            ))
        dims.append(Dimension(d["id"], dict(d["title"]), tuple(qs)))
    return Checklist(id=data["id"], version=str(data["version"]), title=dict(data["title"]),
                     dimensions=tuple(dims), intro=data.get("intro"), raw=data)


def from_json(text: str) -> Checklist:
    return build(json.loads(text))


def _norm(value: Any) -> str:
    if value is True:
        return YES
    if value is False:
        return NO
    return str(value)


# --- loading with line numbers ------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ChecklistError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


Path_ = tuple[Any, ...]


def _compose(text: str, name: str) -> tuple[Any, dict[Path_, int], list[Problem]]:
    """Parse YAML keeping each node's line; duplicate mapping keys are problems."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, [Problem(name, 1, "the file is empty")]
        lines: dict[Path_, int] = {}
        problems: list[Problem] = []
        _walk(node, (), lines, problems, name)
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    return data, lines, problems


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem], name: str) -> None:
    import yaml

    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            k = key.value
            if k in seen:
                problems.append(Problem(name, key.start_mark.line + 1, f"duplicate key '{k}'"))
            seen.add(k)
            lines[path + (k,)] = key.start_mark.line + 1
            _walk(value, path + (k,), lines, problems, name)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines, problems, name)


def _line(lines: dict[Path_, int], path: Path_) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def _schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _where(path: Path_, data: Any) -> str:
    """A readable location such as "question 'r2' text"."""
    parts = []
    node = data
    for p in path:
        if isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
            ident = node.get("id") if isinstance(node, dict) else None
            if parts and parts[-1] in ("dimensions", "questions", "options"):
                kind = parts.pop()[:-1]
                parts.append(f"{kind} '{ident}'" if isinstance(ident, str) else f"{kind} #{p + 1}")
            continue
        parts.append(str(p))
        node = node.get(p) if isinstance(node, dict) else None
    return " ".join(parts) or "top level"


def _schema_problems(data: Any, lines: dict[Path_, int], name: str) -> list[Problem]:
    from jsonschema import Draft202012Validator

    problems = []
    validator = Draft202012Validator(_schema())
    for err in validator.iter_errors(data):
        path = tuple(err.absolute_path)
        where = _where(path, data)
        if err.validator == "required" and path and path[-1] in TEXT_FIELDS:
            missing = err.message.split("'")[1]
            msg = f"{where}: missing translation '{missing}'"
        elif err.validator == "enum" and path and path[-1] == "type":
            msg = f"{where}: unknown question type {err.instance!r} (use one of {', '.join(TYPES)})"
        elif err.validator == "minLength" and path and path[-1] in LANGS:
            msg = f"{where}: empty translation"
        elif err.validator == "additionalProperties":
            msg = f"{where}: {err.message}"
        elif err.validator == "pattern" and path and path[-1] == "id":
            msg = f"{where}: id {err.instance!r} must be 1–20 characters a-z, 0-9 or _ (options 1–16)"
        elif err.validator == "oneOf" and path and path[-1] == "when":
            msg = f"{where}: give exactly one of 'equals' or 'in'"
        else:
            msg = f"{where}: {err.message}"
        problems.append(Problem(name, _line(lines, path), msg))
    return problems


def _rule_problems(data: dict, lines: dict[Path_, int], name: str) -> list[Problem]:
    """Duplicate ids, conditions, per-type requirements."""
    problems: list[Problem] = []

    def add(path: Path_, msg: str) -> None:
        problems.append(Problem(name, _line(lines, path), msg))

    dim_ids: set[str] = set()
    earlier: dict[str, dict] = {}
    all_ids = {q.get("id") for d in data.get("dimensions") or [] if isinstance(d, dict)
               for q in d.get("questions") or [] if isinstance(q, dict)}
    for di, dim in enumerate(data.get("dimensions") or []):
        if not isinstance(dim, dict):
            continue
        if dim.get("id") in dim_ids:
            add(("dimensions", di, "id"), f"duplicate dimension id '{dim.get('id')}'")
        dim_ids.add(dim.get("id"))
        for qi, q in enumerate(dim.get("questions") or []):
            if not isinstance(q, dict):
                continue
            path = ("dimensions", di, "questions", qi)
            qid = q.get("id")
            if qid in earlier:
                add(path + ("id",), f"duplicate question id '{qid}'")
            qtype = q.get("type")
            if qtype == "scale":
                for end in ("low", "high"):
                    if end not in q:
                        add(path, f"question '{qid}': a scale needs '{end}' (the label of its {'1' if end == 'low' else '5'})")
            if qtype in ("single", "multi"):
                if "options" not in q:
                    add(path, f"question '{qid}': a {qtype} choice needs 'options'")
                else:
                    seen: set[str] = set()
                    for oi, opt in enumerate(q.get("options") or []):
                        oid = opt.get("id") if isinstance(opt, dict) else None
                        if oid in seen:
                            add(path + ("options", oi, "id"), f"question '{qid}': duplicate option id '{oid}'")
                        seen.add(oid)
            elif "options" in q:
                add(path + ("options",), f"question '{qid}': only single and multi questions have options")
            if qtype != "scale":
                for end in ("low", "high"):
                    if end in q:
                        add(path + (end,), f"question '{qid}': only scale questions have '{end}'")
            when = q.get("when")
            if isinstance(when, dict) and isinstance(when.get("question"), str):
                ref = when["question"]
                if ref == qid:
                    add(path + ("when", "question"), f"question '{qid}': a condition cannot refer to itself")
                elif ref in earlier:
                    _check_values(earlier[ref], when, path + ("when",), qid, add)
                elif ref in all_ids:
                    add(path + ("when", "question"),
                        f"question '{qid}': condition refers to '{ref}', which comes later (forward condition)")
                else:
                    add(path + ("when", "question"), f"question '{qid}': condition refers to unknown question '{ref}'")
            if isinstance(qid, str) and qid not in earlier:
                earlier[qid] = q
    return problems


def _check_values(ref: dict, when: dict, path: Path_, qid: str, add) -> None:
    values = when.get("in") if "in" in when else [when.get("equals")]
    rtype = ref.get("type")
    for v in values or []:
        v = _norm(v)
        if rtype == "yesno":
            ok = v in (YES, NO)
        elif rtype == "scale":
            ok = v in {"1", "2", "3", "4", "5"}
        elif rtype in ("single", "multi"):
            ok = v in {str(o.get("id")) for o in ref.get("options") or [] if isinstance(o, dict)}
        else:
            add(path + ("question",), f"question '{qid}': a condition cannot depend on free text '{ref.get('id')}'")
            return
        if not ok:
            add(path, f"question '{qid}': '{v}' is not a possible answer of '{ref.get('id')}'")


def check_text(text: str, name: str = "<text>") -> tuple[Checklist | None, list[Problem]]:
    """Validate a checklist; returns the model (None if invalid) and every problem found."""
    import yaml

    try:
        data, lines, problems = _compose(text, name)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        return None, [Problem(name, line, f"YAML syntax error: {err.problem or err}")]
    except yaml.YAMLError as err:
        return None, [Problem(name, 1, f"YAML error: {err}")]
    if data is None:
        return None, problems
    if not isinstance(data, dict):
        return None, [*problems, Problem(name, 1, "the top level must be a mapping (id, version, title, dimensions)")]
    problems += _schema_problems(data, lines, name)
    problems += _rule_problems(data, lines, name)
    problems = sorted(set(problems), key=lambda p: (p.line, p.message))
    if problems:
        return None, problems
    return build(data), []


def check_file(path: Path) -> tuple[Checklist | None, list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return None, [Problem(str(path), 1, f"cannot read the file: {err}")]
    return check_text(text, str(path))


def directories(data_dir: Path | None = None) -> list[Path]:
    """Shipped checklists, then a network's own in ``<data_dir>/checklists``."""
    dirs = [CHECKLIST_DIR]
    if data_dir is not None:
        dirs.append(Path(data_dir) / "checklists")
    return dirs


def load_all(dirs: list[Path]) -> dict[str, Checklist]:
    """Every valid checklist by id; a broken file is logged and skipped, never breaks the others."""
    found: dict[str, Checklist] = {}
    for directory in dirs:
        for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
            checklist, problems = check_file(path)
            if checklist is None:
                log.error("checklist %s refused: %d problem(s): %s", path, len(problems),
                          "; ".join(f"line {p.line}: {p.message}" for p in problems))
                continue
            if checklist.id in found:
                log.warning("checklist %s: id %r already loaded; this file replaces it", path, checklist.id)
            found[checklist.id] = checklist
    return found
