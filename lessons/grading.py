"""How a question is shown and how a submission is refused, on the server only.

Choices and ordering items are shown shuffled per attempt and submitted by their
position on the page, never by database id: an id would tell a curious learner
which choice the author wrote first. What each kind parses and grades is in
`lessons/question_kinds.py`. Nothing here imports the models, which read the
kinds table for their own field choices.
"""

import random
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from mlopslab.refusals import Refused

RATINGS = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}


class ChoiceLike(Protocol):
    pk: Any
    order: int
    correct: bool


class QuestionLike(Protocol):
    pk: Any
    kind: str
    answer: dict


class InvalidAnswer(Refused):
    """The submission cannot be an answer to this question: 422 when the learner left it incomplete or
    malformed, 400 when it names something the page never offered."""


def shuffled(seq: Sequence, *, seed: int, salt: object) -> list:
    """The same order for the same attempt and question, so a reload shows the page unchanged."""
    items = list(seq)
    random.Random(f"{seed}:{salt}").shuffle(items)
    return items


C = TypeVar("C", bound=ChoiceLike)


def display_choices(question: QuestionLike, choices: Sequence[C], *, seed: int) -> list[C]:
    return shuffled(sorted(choices, key=lambda c: c.order), seed=seed, salt=f"choices:{question.pk}")


def display_items(question: QuestionLike, *, seed: int) -> list[str]:
    return shuffled(question.answer.get("order", []), seed=seed, salt=f"items:{question.pk}")


def position(raw: object, count: int) -> int:
    """A submitted position on the page, refused unless it is one of the `count` shown."""
    try:
        value = int(str(raw or ""))
    except ValueError:
        raise InvalidAnswer("That is not one of this question's choices.") from None
    if not 0 <= value < count:
        raise InvalidAnswer("That is not one of this question's choices.")
    return value
