"""The question editor's fields: read from a question's `Data` or from a posted form, and turned into the
entry its `questions.yaml` would hold.

The form is checked by writing that entry and reading it back exactly as `sync_content` reads the bank
(`content_files.read_text`), so every rule of the bank applies as the author types: no correct choice, an
ordering whose right order is not a permutation of its items, a tolerance that accepts wrong roundings.
The question's `Data` is then what that reader read (`item_data.question_data_from_file`), so its stored key
is exactly the one the kind's `read_key` returns.
"""

import math
import re
from dataclasses import dataclass, field
from typing import Any

from lessons import content_files
from lessons.content_files import Problem
from lessons.models import Question
from lessons.question_kinds import KINDS
from lessons.services import CONTENT_ROOT
from studio import items
from studio.item_data import Data, entry_text, question_data_from_file

MAX_CHOICES = 6
"""Rows of choices the form offers (blank rows are ignored), enough without any script to add rows."""
MAX_ITEMS = 8
QID_LENGTH = Question._meta.get_field("qid").max_length
DIFFICULTIES = ((1, "1 · easy"), (2, "2 · medium"), (3, "3 · hard"))
TRUE_FALSE = (("true", "True"), ("false", "False"))
_KEY_LINE = re.compile(r"^(?:- |  )([a-z_]+):")


@dataclass
class ChoiceRow:
    text: str = ""
    correct: bool = False
    feedback: str = ""


@dataclass
class ItemRow:
    text: str = ""
    position: str = ""


@dataclass
class EditorState:
    """What the editor's fields hold, as strings where the author types them."""

    node: str
    kind: str
    qid: str = ""
    difficulty: str = "2"
    tags: str = ""
    prompt: str = ""
    explanation: str = ""
    model_answer: str = ""
    choices: list[ChoiceRow] = field(default_factory=list)
    items: list[ItemRow] = field(default_factory=list)
    answer: str = ""
    tolerance: str = ""
    unit: str = ""
    truth: str = ""

    @property
    def spec(self) -> Any:
        return KINDS[self.kind]

    def padded(self) -> "EditorState":
        """The same fields with empty rows up to the form's number of rows."""
        self.choices = self.choices + [ChoiceRow() for _ in range(MAX_CHOICES - len(self.choices))]
        self.items = self.items + [ItemRow() for _ in range(MAX_ITEMS - len(self.items))]
        return self


def _number_text(value: object) -> str:
    return "" if value is None else str(value)


def state_from_data(data: Data) -> EditorState:
    """The editor's fields for a saved question."""
    answer = data["answer"]
    state = EditorState(
        node=data["node"],
        kind=data["kind"],
        qid=data["id"],
        difficulty=str(data["difficulty"]),
        tags=", ".join(data["tags"]),
        prompt=data["prompt"],
        explanation=data["explanation"],
        model_answer=data["model_answer"],
        choices=[ChoiceRow(c["text"], c["correct"], c["feedback"]) for c in data["choices"]],
    )
    if data["kind"] == "ordering":
        order = answer["order"]
        # Rows as the file lists its items, each with its place in the right order.
        state.items = [ItemRow(text, str(order.index(text) + 1)) for text in sorted(order)]
    elif data["kind"] == "numeric":
        state.answer = _number_text(answer.get("value"))
        state.tolerance = _number_text(answer.get("tolerance")) if answer.get("tolerance") else ""
        state.unit = answer.get("unit") or ""
    elif data["kind"] == "true_false":
        state.truth = "true" if answer.get("value") else "false"
    return state


def state_from_post(post: Any, *, node: str, kind: str, qid: str) -> EditorState:
    """The editor's fields as posted (the stage, kind and, when editing, the id come from the page, not the form)."""

    def text(name: str) -> str:
        # PostgreSQL text cannot hold NUL, and no content file has one.
        return str(post.get(name) or "").replace("\r\n", "\n").replace("\x00", "").strip()

    return EditorState(
        node=node,
        kind=kind,
        qid=qid,
        difficulty=text("difficulty"),
        tags=text("tags"),
        prompt=text("prompt"),
        explanation=text("explanation"),
        model_answer=text("model_answer"),
        choices=[
            ChoiceRow(text(f"choice-{i}-text"), bool(post.get(f"choice-{i}-correct")), text(f"choice-{i}-feedback"))
            for i in range(MAX_CHOICES)
        ],
        items=[ItemRow(text(f"item-{i}-text"), text(f"item-{i}-position")) for i in range(MAX_ITEMS)],
        answer=text("answer"),
        tolerance=text("tolerance"),
        unit=text("unit"),
        truth=text("truth"),
    )


def _number(raw: str) -> object:
    """A typed number as YAML would read it (an int when written as one), or the text itself, which the bank's
    reader then refuses as not a number."""
    cleaned = raw.replace(",", ".").replace(" ", "")
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        value = float(cleaned)
    except ValueError:
        return raw
    return value if math.isfinite(value) else raw


def _ordering_key(rows: list[ItemRow]) -> tuple[list[str], list[str | None]]:
    """The items in the rows' order, and the right order the positions give: the item at each position 1..n,
    or None where no single row holds that position (so the bank's permutation rule names the mistake)."""
    texts = [row.text for row in rows]
    order: list[str | None] = []
    for place in range(1, len(rows) + 1):
        holders = [row.text for row in rows if row.position == str(place)]
        order.append(holders[0] if len(holders) == 1 else None)
    return texts, order


def entry_of(state: EditorState) -> dict:
    """The question as the entry its `questions.yaml` would hold, written the way each kind's reader reads it."""
    spec = state.spec
    difficulty: object = int(state.difficulty) if re.fullmatch(r"[0-9]+", state.difficulty) else state.difficulty
    entry: dict = {"id": state.qid, "kind": state.kind, "difficulty": difficulty}
    tags = [tag.strip() for tag in state.tags.split(",") if tag.strip()]
    if tags:
        entry["tags"] = tags
    entry["prompt"] = state.prompt
    if spec.has_choices:
        entry["choices"] = []
        for row in state.choices:
            if not row.text:
                continue
            written: dict = {"text": row.text}
            if row.correct:
                written["correct"] = True
            if row.feedback:
                written["feedback"] = row.feedback
            entry["choices"].append(written)
    if state.kind == "true_false" and state.truth in ("true", "false"):
        entry["answer"] = state.truth == "true"
    elif state.kind == "numeric":
        entry["answer"] = _number(state.answer)
        if state.tolerance:
            entry["tolerance"] = _number(state.tolerance)
        if state.unit:
            entry["unit"] = state.unit
    elif state.kind == "ordering":
        entry["items"], entry["answer"] = _ordering_key([row for row in state.items if row.text])
    entry["explanation"] = state.explanation
    if spec.has_model_answer:
        entry["model_answer"] = state.model_answer
    return entry


@dataclass
class Checked:
    """The form read as the bank reads its file: the text, its problems by line, and the question's data
    when there are none."""

    text: str
    problems: list[Problem]
    data: Data | None
    bad_keys: set[str] = field(default_factory=set)
    """The entry's keys on whose lines a problem is, to mark those fields."""

    @property
    def lines(self) -> list[tuple[int, str, bool]]:
        """The file text's lines, numbered, with the lines that have a problem marked."""
        marked = {problem.line for problem in self.problems}
        return [(number, line, number in marked) for number, line in enumerate(self.text.splitlines(), 1)]


def _keys_by_line(text: str) -> dict[int, str]:
    keys, current = {}, ""
    for number, line in enumerate(text.splitlines(), 1):
        match = _KEY_LINE.match(line)
        if match:
            current = match.group(1)
        keys[number] = current
    return keys


def check_state(state: EditorState) -> Checked:
    """Every problem the bank's reader finds in the form's question, and the course-wide checks of the studio."""
    text = entry_text(entry_of(state))
    path = CONTENT_ROOT / items.TYPES["question"].path({"node": state.node})
    found, problems = content_files.read_text(CONTENT_ROOT, path, text)
    data = None
    if not problems and found:
        data = question_data_from_file(state.node, found[0])
        problems = items.check("question", data)
        if problems:
            text, data = items.TYPES["question"].text(data), None
    if len(state.qid) > QID_LENGTH:
        problems = [*problems, Problem(str(path.name), 1, f"an id has at most {QID_LENGTH} characters")]
        data = None
    keys = _keys_by_line(text)
    return Checked(text, problems, data, {keys.get(problem.line, "") for problem in problems})
