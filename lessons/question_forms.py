"""The unanswered question as HTML, written in Python.

A quiz page shows every question of a stage at once, unanswered, and rendering each one through a template
with its kind's partial, two `{% url %}` tags and a CSRF token cost about 0.6 ms a question: most of the page.
These functions write the same markup directly. Each kind's inputs come from its entry in the table of kinds
(`QuestionKind.render_form`); everything that comes from content is already sanitized HTML (`*_html`) or is
escaped here. Nothing here reveals the key: choices and items are shuffled by the attempt's seed and posted
by their position on the page.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class QuestionForm:
    """What one unanswered question shows: everything the kind's inputs need, already in display order."""

    question: Any
    number: int
    answer_url: str
    reveal_url: str
    csrf_token: str
    choices: Sequence[tuple[int, Any]] = ()
    """(position, choice) in display order."""
    items: Sequence[str] = ()
    """Ordering items in display order."""
    ratings: dict[int, str] | None = None
    error: str | None = None
    revealed: bool = False


def _csrf_input(form: QuestionForm) -> str:
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(form.csrf_token)}">'


def _choice_inputs(form: QuestionForm, input_type: str) -> str:
    return "".join(
        f'<label class="option"><input type="{input_type}" name="choice" value="{position}"> '
        f"<span>{choice.text_html}</span></label>"
        for position, choice in form.choices
    )


def single_inputs(form: QuestionForm) -> str:
    return _choice_inputs(form, "radio")


def multiple_inputs(form: QuestionForm) -> str:
    return '<p class="muted">Select all that apply.</p>' + _choice_inputs(form, "checkbox")


def true_false_inputs(form: QuestionForm) -> str:
    return (
        '<label class="option"><input type="radio" name="value" value="true"> True</label>\n'
        '<label class="option"><input type="radio" name="value" value="false"> False</label>'
    )


def ordering_inputs(form: QuestionForm) -> str:
    numbers = [str(n) for n in range(1, len(form.items) + 1)]
    rows = ['<p class="muted">Give each item its position, 1 first.</p>']
    for index, item in enumerate(form.items):
        options = "".join(
            f'<option value="{n}"{" selected" if n == numbers[index] else ""}>{n}</option>' for n in numbers
        )
        rows.append(
            f'<label class="option option--ordering"><select name="position-{index}">{options}</select> '
            f"<span>{escape(item)}</span></label>"
        )
    return "\n".join(rows)


def numeric_inputs(form: QuestionForm) -> str:
    unit = form.question.answer.get("unit") if isinstance(form.question.answer, dict) else None
    return (
        '<label class="option option--numeric">Your answer '
        '<input type="text" inputmode="decimal" name="value" autocomplete="off" size="12">'
        f"{' ' + escape(unit) if unit else ''}</label>"
    )


def explain_flow(form: QuestionForm) -> str:
    """A card the learner rates themselves: reveal the model answer first, then rate."""
    target = f'hx-target="#q-{form.question.pk}" hx-swap="outerHTML"'
    if form.revealed:
        buttons = "".join(
            f'<button class="button button--rating" type="submit" name="rating" value="{value}">'
            f"{escape(label)}</button>"
            for value, label in (form.ratings or {}).items()
        )
        html = (
            '<div class="callout callout--note"><p class="callout__title">Model answer</p>'
            f'<div class="prose">{form.question.model_answer_html}</div></div>\n'
            f'<form method="post" action="{form.answer_url}" hx-post="{form.answer_url}" {target}>'
            f"{_csrf_input(form)}<p>How close was your answer?</p>"
            f'<div class="ratings">{buttons}</div></form>'
        )
    else:
        html = (
            '<p class="muted">Answer out loud or on paper first, then compare with a model answer.</p>\n'
            f'<a class="button" href="{form.reveal_url}" hx-get="{form.reveal_url}" {target}>'
            "Reveal the model answer</a>"
        )
    if form.error:
        html += f'\n<p class="form-errors" role="alert">{escape(form.error)}</p>'
    return html


def question_html(form: QuestionForm) -> SafeString:
    """The whole unanswered question: its heading, prompt and the inputs (or flow) of its kind."""
    question = form.question
    spec = question.spec
    pk = question.pk
    head = (
        f'<article class="question card" id="q-{pk}" aria-labelledby="q-{pk}-title">\n'
        f'<header class="question__head"><h2 class="question__title" id="q-{pk}-title">Question {form.number}</h2>'
        f'<span class="muted">{escape(spec.label)} · {escape(question.node.title)}</span></header>\n'
        f'<div class="prose question__prompt">{question.prompt_html}</div>\n'
    )
    if spec.graded:
        error = f'<p class="form-errors" role="alert">{escape(form.error)}</p>' if form.error else ""
        body = (
            f'<form method="post" action="{form.answer_url}" hx-post="{form.answer_url}" '
            f'hx-target="#q-{pk}" hx-swap="outerHTML" novalidate>{_csrf_input(form)}'
            '<fieldset class="answer-options"><legend class="visually-hidden">Your answer</legend>\n'
            f"{spec.render_form(form)}\n</fieldset>{error}"
            '<button class="button" type="submit">Check answer</button></form>'
        )
    else:
        body = spec.render_form(form)
    return mark_safe(f"{head}{body}\n</article>")  # content is sanitized HTML, the rest escaped above
