"""Every kind of quiz question, described once.

Each `QuestionKind` says what a kind is called, whether it has choices and how many of
them must be correct, how its key is read from `questions.yaml`, how a submitted form
is parsed, how the parsed response is graded, what writes its inputs before an answer
and which partial shows it after one. The model's field choices, content validation, grading and the
question templates all read this table, so a new kind is one entry here, the writer of
its inputs in `question_forms` and its result partial under `templates/lessons/partials/kinds/`.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lessons import question_forms
from lessons.grading import RATINGS, ChoiceLike, InvalidAnswer, QuestionLike, display_choices, display_items, position

Report = Callable[[str | None, str], None]
"""Records a content problem at the line of the named key (None: the question's own line)."""
Parser = Callable[[QuestionLike, Sequence[ChoiceLike], Any, int], dict]
"""(question, its choices, the posted QueryDict, the attempt's seed) -> the response to store."""
Grader = Callable[[QuestionLike, Sequence[ChoiceLike], dict], bool]
KeyReader = Callable[[Mapping, Report], dict | None]
"""(the question's YAML mapping, report) -> the stored key, or None after reporting a problem."""
CorrectChoices = Callable[[int, int], str | None]
"""(correct choices, all choices) -> the problem with that count, or None when it is right."""


@dataclass(frozen=True)
class QuestionKind:
    value: str
    label: str
    parse: Parser
    grade: Grader | None
    """None for a kind the learner rates themselves instead of being graded."""
    render_form: Callable[[question_forms.QuestionForm], str]
    """Writes the unanswered question's inputs (for a rated kind, its whole answering flow)."""
    result_template: str
    """Partial showing the answered question: the learner's answer beside the key."""
    read_key: KeyReader
    has_choices: bool = False
    correct_choices: CorrectChoices | None = None
    has_model_answer: bool = False

    @property
    def graded(self) -> bool:
        return self.grade is not None


PARTIALS = "lessons/partials/kinds/"


def _no_key(item: Mapping, report: Report) -> dict:
    return {}


# --- choices ----------------------------------------------------------------------------------


def _parse_single(question: QuestionLike, choices: Sequence[ChoiceLike], data: Any, seed: int) -> dict:
    picked = data.getlist("choice")
    if not picked:
        raise InvalidAnswer("Choose an answer first.", status=422)
    if len(picked) != 1:
        raise InvalidAnswer("This question takes exactly one answer.")
    return _parse_multiple(question, choices, data, seed)


def _parse_multiple(question: QuestionLike, choices: Sequence[ChoiceLike], data: Any, seed: int) -> dict:
    shown = display_choices(question, choices, seed=seed)
    picked = data.getlist("choice")
    if not picked:
        raise InvalidAnswer("Choose an answer first.", status=422)
    positions = {position(raw, len(shown)) for raw in picked}
    return {"choices": sorted(shown[p].pk for p in positions)}


def _grade_choices(question: QuestionLike, choices: Sequence[ChoiceLike], response: dict) -> bool:
    return set(response["choices"]) == {c.pk for c in choices if c.correct}


def _exactly_one_correct(right: int, total: int) -> str | None:
    if right != 1:
        return f"a single-choice question needs exactly one correct choice, not {right}"
    return None


def _some_correct_some_wrong(right: int, total: int) -> str | None:
    if right == 0 or right == total:
        return "a multiple-choice question needs at least one correct and one wrong choice"
    return None


# --- true or false ----------------------------------------------------------------------------


def _parse_true_false(question: QuestionLike, choices: Sequence[ChoiceLike], data: Any, seed: int) -> dict:
    value = data.get("value")
    if value not in ("true", "false"):
        raise InvalidAnswer("Choose true or false first.", status=422)
    return {"value": value == "true"}


def _grade_true_false(question: QuestionLike, choices: Sequence[ChoiceLike], response: dict) -> bool:
    return response["value"] is question.answer["value"]


def _read_true_false(item: Mapping, report: Report) -> dict | None:
    answer = item.get("answer")
    if not isinstance(answer, bool):
        report("answer", "a true_false question needs 'answer: true' or 'answer: false'")
        return None
    return {"value": answer}


# --- a number ---------------------------------------------------------------------------------


def _parse_numeric(question: QuestionLike, choices: Sequence[ChoiceLike], data: Any, seed: int) -> dict:
    raw = str(data.get("value") or "").strip().replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        raise InvalidAnswer(f"Enter a number, such as 0.25 (not {raw!r}).", status=422) from None
    if not math.isfinite(value):
        raise InvalidAnswer("Enter a finite number.", status=422)
    return {"value": value}


def _grade_numeric(question: QuestionLike, choices: Sequence[ChoiceLike], response: dict) -> bool:
    # The small epsilon keeps an answer exactly at the tolerance's edge correct despite float rounding.
    return abs(response["value"] - question.answer["value"]) <= question.answer.get("tolerance", 0) + 1e-12


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


ESTIMATE_TAG = "estimate"
"""Tags a numeric question that asks for a rough figure, whose tolerance is a range by intent."""


def _decimal_places(value: float) -> int:
    """The decimal places the answer is written to: 0.25 has 2, 140 and 2.0e6 have none (an integer answer is
    exact; trailing zeros are not taken as rounding)."""
    if isinstance(value, int):
        return 0
    return max(0, -int(Decimal(repr(value)).normalize().as_tuple().exponent))


def _rounding_problem(answer: float, tolerance: float) -> str | None:
    """A tolerance wider than half a unit of the answer's last decimal place accepts answers that round to
    another value at that precision: for 0.25 ± 0.01, 0.24 and 0.26 (the neighbouring roundings), and for
    0.25 ± 0.006, 0.256, which rounds to 0.26. At most half a unit (0.005) accepts exactly what rounds to 0.25."""
    places = _decimal_places(answer)
    half = float(Decimal(1).scaleb(-places) / 2)
    if tolerance <= half * (1 + 1e-9):
        return None
    step = 2 * half
    if tolerance >= step * (1 - 1e-9):
        accepted = f"{answer - step:.{places}f} and {answer + step:.{places}f}, its neighbouring roundings"
    else:
        accepted = f"{round(answer + tolerance, 12)!r}, which rounds to {answer + step:.{places}f}"
    where = f"{places} decimal place{'' if places == 1 else 's'}" if places else "a whole number"
    return (
        f"a tolerance of {tolerance:g} accepts wrong roundings of the answer {answer:.{places}f} (written to "
        f"{where}): {accepted}; use at most {half:g}, half a unit of its last digit, or tag a question that asks "
        f"for a rough figure {ESTIMATE_TAG!r}"
    )


def _read_numeric(item: Mapping, report: Report) -> dict | None:
    answer, tolerance = item.get("answer"), item.get("tolerance", 0)
    if not _is_number(answer) or not math.isfinite(answer):
        report("answer", "a numeric question needs a number as 'answer'")
        return None
    if not _is_number(tolerance) or not tolerance >= 0 or not math.isfinite(tolerance):
        report("tolerance", "'tolerance' must be a number of zero or more")
        return None
    tags = item.get("tags")
    if not (isinstance(tags, list) and ESTIMATE_TAG in tags):
        problem = _rounding_problem(answer, tolerance)
        if problem:
            report("tolerance", problem)
            return None
    return {"value": answer, "tolerance": tolerance, "unit": str(item.get("unit") or "")}


# --- an order ---------------------------------------------------------------------------------


def _parse_ordering(question: QuestionLike, choices: Sequence[ChoiceLike], data: Any, seed: int) -> dict:
    items = display_items(question, seed=seed)
    try:
        positions = [int(str(data.get(f"position-{index}", ""))) for index in range(len(items))]
    except ValueError:
        raise InvalidAnswer("Give every item a position.", status=422) from None
    if sorted(positions) != list(range(1, len(items) + 1)):
        raise InvalidAnswer(f"Use each position from 1 to {len(items)} exactly once.", status=422)
    return {"order": [item for _, item in sorted(zip(positions, items, strict=True))]}


def _grade_ordering(question: QuestionLike, choices: Sequence[ChoiceLike], response: dict) -> bool:
    return response["order"] == question.answer["order"]


def _read_ordering(item: Mapping, report: Report) -> dict | None:
    items, answer = item.get("items"), item.get("answer")
    if not isinstance(items, list) or len(items) < 3 or not all(isinstance(i, str) for i in items):
        report("items", "an ordering question needs at least three 'items' (text)")
        return None
    if len(set(items)) != len(items):
        report("items", "two ordering items have the same text")
        return None
    if not isinstance(answer, list) or sorted(map(str, answer)) != sorted(items):
        report("answer", "the 'answer' of an ordering question must be a permutation of its 'items'")
        return None
    return {"order": answer}


# --- explain it -------------------------------------------------------------------------------


def _parse_rating(question: QuestionLike, choices: Sequence[ChoiceLike], data: Any, seed: int) -> dict:
    try:
        rating = int(str(data.get("rating", "")))
    except ValueError:
        rating = 0
    if rating not in RATINGS:
        raise InvalidAnswer("Rate your answer: Again, Hard, Good or Easy.", status=422)
    return {"rating": rating}


KINDS: dict[str, QuestionKind] = {
    kind.value: kind
    for kind in (
        QuestionKind(
            "single",
            "Single choice",
            parse=_parse_single,
            grade=_grade_choices,
            read_key=_no_key,
            has_choices=True,
            correct_choices=_exactly_one_correct,
            render_form=question_forms.single_inputs,
            result_template=PARTIALS + "choices_result.html",
        ),
        QuestionKind(
            "multiple",
            "Select all that apply",
            parse=_parse_multiple,
            grade=_grade_choices,
            read_key=_no_key,
            has_choices=True,
            correct_choices=_some_correct_some_wrong,
            render_form=question_forms.multiple_inputs,
            result_template=PARTIALS + "choices_result.html",
        ),
        QuestionKind(
            "true_false",
            "True or false",
            parse=_parse_true_false,
            grade=_grade_true_false,
            read_key=_read_true_false,
            render_form=question_forms.true_false_inputs,
            result_template=PARTIALS + "true_false_result.html",
        ),
        QuestionKind(
            "ordering",
            "Put in order",
            parse=_parse_ordering,
            grade=_grade_ordering,
            read_key=_read_ordering,
            render_form=question_forms.ordering_inputs,
            result_template=PARTIALS + "ordering_result.html",
        ),
        QuestionKind(
            "numeric",
            "Number",
            parse=_parse_numeric,
            grade=_grade_numeric,
            read_key=_read_numeric,
            render_form=question_forms.numeric_inputs,
            result_template=PARTIALS + "numeric_result.html",
        ),
        QuestionKind(
            "explain",
            "Explain it",
            parse=_parse_rating,
            grade=None,
            read_key=_no_key,
            has_model_answer=True,
            render_form=question_forms.explain_flow,
            result_template=PARTIALS + "explain_result.html",
        ),
    )
}
CHOICE_KINDS = tuple(value for value, kind in KINDS.items() if kind.has_choices)
GRADED_KINDS = tuple(value for value, kind in KINDS.items() if kind.graded)


def kind_of(question: QuestionLike) -> QuestionKind:
    try:
        return KINDS[question.kind]
    except KeyError:
        raise InvalidAnswer(f"Questions of kind {question.kind!r} cannot be answered.") from None


def parse_answer(question: QuestionLike, choices: Sequence[ChoiceLike], data: Any, *, seed: int) -> dict:
    """Turn the submitted form into the stored response, or raise InvalidAnswer.

    `data` is a QueryDict-like mapping (with getlist) of the posted fields.
    """
    return kind_of(question).parse(question, choices, data, seed)


def is_correct(question: QuestionLike, choices: Sequence[ChoiceLike], response: dict) -> bool | None:
    """Grade a parsed response; None for a kind the learner rates themselves."""
    grade = kind_of(question).grade
    return grade(question, choices, response) if grade else None
