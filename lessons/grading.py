"""Reading a submitted answer and grading it, on the server only.

Choices and ordering items are shown shuffled per attempt and submitted by their
position on the page, never by database id: an id would tell a curious learner
which choice the author wrote first.
"""

import math
import random
from collections.abc import Mapping, Sequence

from lessons.models import Choice, Question

RATINGS = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}


class InvalidAnswer(Exception):
    """The submission cannot be an answer to this question; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def shuffled(seq: Sequence, *, seed: int, salt: object) -> list:
    """The same order for the same attempt and question, so a reload shows the page unchanged."""
    items = list(seq)
    random.Random(f"{seed}:{salt}").shuffle(items)
    return items


def display_choices(question: Question, choices: Sequence[Choice], *, seed: int) -> list[Choice]:
    return shuffled(sorted(choices, key=lambda c: c.order), seed=seed, salt=f"choices:{question.pk}")


def display_items(question: Question, *, seed: int) -> list[str]:
    return shuffled(question.answer.get("order", []), seed=seed, salt=f"items:{question.pk}")


def _position(raw: str | None, count: int) -> int:
    try:
        position = int(raw or "")
    except ValueError:
        raise InvalidAnswer("That is not one of this question's choices.") from None
    if not 0 <= position < count:
        raise InvalidAnswer("That is not one of this question's choices.")
    return position


def parse_answer(question: Question, choices: Sequence[Choice], data: Mapping[str, object], *, seed: int) -> dict:
    """Turn the submitted form into the stored response, or raise InvalidAnswer.

    `data` is a QueryDict-like mapping (with getlist) of the posted fields.
    """
    kind = question.kind
    if kind in Question.CHOICE_KINDS:
        shown = display_choices(question, choices, seed=seed)
        picked = data.getlist("choice")
        if not picked:
            raise InvalidAnswer("Choose an answer first.", status=422)
        if kind == Question.Kind.SINGLE and len(picked) != 1:
            raise InvalidAnswer("This question takes exactly one answer.")
        positions = {_position(raw, len(shown)) for raw in picked}
        return {"choices": sorted(shown[p].pk for p in positions)}
    if kind == Question.Kind.TRUE_FALSE:
        value = data.get("value")
        if value not in ("true", "false"):
            raise InvalidAnswer("Choose true or false first.", status=422)
        return {"value": value == "true"}
    if kind == Question.Kind.NUMERIC:
        raw = str(data.get("value") or "").strip().replace(",", ".")
        try:
            value = float(raw)
        except ValueError:
            raise InvalidAnswer(f"Enter a number, such as 0.25 (not {raw!r}).", status=422) from None
        if not math.isfinite(value):
            raise InvalidAnswer("Enter a finite number.", status=422)
        return {"value": value}
    if kind == Question.Kind.ORDERING:
        items = display_items(question, seed=seed)
        try:
            positions = [int(str(data.get(f"position-{index}", ""))) for index in range(len(items))]
        except ValueError:
            raise InvalidAnswer("Give every item a position.", status=422) from None
        if sorted(positions) != list(range(1, len(items) + 1)):
            raise InvalidAnswer(f"Use each position from 1 to {len(items)} exactly once.", status=422)
        return {"order": [item for _, item in sorted(zip(positions, items, strict=True))]}
    if kind == Question.Kind.EXPLAIN:
        try:
            rating = int(str(data.get("rating", "")))
        except ValueError:
            rating = 0
        if rating not in RATINGS:
            raise InvalidAnswer("Rate your answer: Again, Hard, Good or Easy.", status=422)
        return {"rating": rating}
    raise InvalidAnswer(f"Questions of kind {kind!r} cannot be answered.")


def is_correct(question: Question, choices: Sequence[Choice], response: dict) -> bool | None:
    """Grade a parsed response; None for explain-it cards, which learners rate themselves."""
    kind = question.kind
    if kind in Question.CHOICE_KINDS:
        return set(response["choices"]) == {c.pk for c in choices if c.correct}
    if kind == Question.Kind.TRUE_FALSE:
        return response["value"] is question.answer["value"]
    if kind == Question.Kind.NUMERIC:
        return abs(response["value"] - question.answer["value"]) <= question.answer.get("tolerance", 0) + 1e-12
    if kind == Question.Kind.ORDERING:
        return response["order"] == question.answer["order"]
    return None
