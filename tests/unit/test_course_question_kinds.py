"""The table of question kinds is the one description that the model, content validation, grading and the
question templates read."""

from dataclasses import replace
from pathlib import Path

import pytest
from django.http import QueryDict
from django.template.loader import get_template

from lessons import question_kinds
from lessons.content_files import ContentError, read_content
from lessons.grading import InvalidAnswer
from lessons.models import Question
from tests.content_tree import write_content_tree, write_questions

YES_NO = """\
- id: first-yes-no
  kind: yes_no
  prompt: Is a model registry a database of versions?
  answer: true
  explanation: It records each version with its lineage.
"""


def test_the_models_kind_choices_are_the_tables() -> None:
    field = Question._meta.get_field("kind")
    assert field.choices == [(value, kind.label) for value, kind in question_kinds.KINDS.items()]
    assert Question.Kind.EXPLAIN == "explain"
    assert Question.CHOICE_KINDS == ("single", "multiple")
    assert question_kinds.GRADED_KINDS == ("single", "multiple", "true_false", "ordering", "numeric")


@pytest.mark.parametrize("kind", list(question_kinds.KINDS.values()), ids=list(question_kinds.KINDS))
def test_every_kind_has_its_writers_and_a_consistent_description(kind: question_kinds.QuestionKind) -> None:
    assert callable(kind.render_form)
    get_template(kind.result_template)
    assert kind.has_choices == (kind.correct_choices is not None)
    assert not (kind.has_model_answer and kind.graded)


def test_a_kind_that_is_not_in_the_table_is_named_with_the_tables_kinds(tmp_path: Path) -> None:
    content = write_content_tree(tmp_path)
    write_questions(content, text=YES_NO)
    with pytest.raises(ContentError) as error:
        read_content(content)
    assert str(error.value).endswith("kind must be one of single, multiple, true_false, ordering, numeric, explain")


def test_a_new_kind_is_read_validated_parsed_and_graded_from_its_table_entry_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yes_no = replace(question_kinds.KINDS["true_false"], value="yes_no", label="Yes or no")
    monkeypatch.setitem(question_kinds.KINDS, "yes_no", yes_no)
    content = write_content_tree(tmp_path)
    write_questions(content, text=YES_NO)
    question = read_content(content).nodes[0].questions[0]
    assert (question.kind, question.answer) == ("yes_no", {"value": True})

    write_questions(content, text=YES_NO.replace("answer: true", "answer: maybe"))
    with pytest.raises(ContentError, match="needs 'answer: true' or 'answer: false'"):
        read_content(content)

    stored = Question(pk=1, kind="yes_no", answer=question.answer)
    response = question_kinds.parse_answer(stored, [], QueryDict("value=true"), seed=1)
    assert question_kinds.is_correct(stored, [], response) is True
    with pytest.raises(InvalidAnswer) as refused:
        question_kinds.parse_answer(stored, [], QueryDict(""), seed=1)
    assert refused.value.status == 422


def test_a_stored_question_of_an_unknown_kind_is_refused_not_a_crash() -> None:
    with pytest.raises(InvalidAnswer, match="cannot be answered"):
        question_kinds.parse_answer(Question(pk=1, kind="essay"), [], QueryDict("value=x"), seed=1)


NUMERIC = """\
- id: first-number
  kind: numeric
  prompt: How much?
  answer: {answer}
  tolerance: {tolerance}{tags}
  explanation: Because.
"""


@pytest.mark.parametrize(
    ("answer", "tolerance", "accepted"),
    [
        ("0.25", "0.005", True),  # exactly what rounds to 0.25 at two places
        ("0.25", "0.01", False),  # 0.24 and 0.26, the neighbouring roundings
        ("0.25", "0.006", False),  # 0.256 rounds to 0.26
        ("0.250", "0.005", True),  # YAML reads 0.25: the trailing zero is not a third place
        ("0.817", "0.00005", True),
        ("5.6", "0.1", False),
        ("5.6", "0.05", True),
        ("140", "0.5", True),  # an integer answer is exact: 139 and 141 are wrong
        ("140", "1", False),
        ("10800", "0", True),
        ("10800", "100", False),  # trailing zeros of an integer are not read as rounding
        ("2.0e+6", "0.5", True),  # a whole number written as a float
    ],
)
def test_a_tolerance_that_accepts_wrong_roundings_is_a_content_problem(
    tmp_path: Path, answer: str, tolerance: str, accepted: bool
) -> None:
    content = write_content_tree(tmp_path)
    write_questions(content, text=NUMERIC.format(answer=answer, tolerance=tolerance, tags=""))
    if accepted:
        assert read_content(content).nodes[0].questions[0].answer["tolerance"] == float(tolerance)
        return
    with pytest.raises(ContentError) as error:
        read_content(content)
    (problem,) = error.value.problems
    assert (problem.line, "accepts wrong roundings" in problem.message) == (5, True)


def test_an_estimate_may_accept_a_range_wider_than_its_rounding(tmp_path: Path) -> None:
    content = write_content_tree(tmp_path)
    write_questions(content, text=NUMERIC.format(answer="1.5", tolerance="0.1", tags="\n  tags: [estimate]"))
    assert read_content(content).nodes[0].questions[0].answer == {"value": 1.5, "tolerance": 0.1, "unit": ""}


def test_the_message_names_the_wrong_roundings_and_the_widest_right_tolerance(tmp_path: Path) -> None:
    content = write_content_tree(tmp_path)
    write_questions(content, text=NUMERIC.format(answer="5.6", tolerance="0.1", tags=""))
    with pytest.raises(ContentError, match=r"5\.5 and 5\.7, its neighbouring roundings; use at most 0\.05"):
        read_content(content)


@pytest.mark.parametrize("answer", [".inf", ".nan"])
def test_an_answer_that_is_not_a_finite_number_is_refused(tmp_path: Path, answer: str) -> None:
    content = write_content_tree(tmp_path)
    write_questions(content, text=NUMERIC.format(answer=answer, tolerance="0", tags=""))
    with pytest.raises(ContentError, match="needs a number as 'answer'"):
        read_content(content)
