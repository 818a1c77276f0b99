"""The answer box of a discussion prompt. Emptiness and length are refused by the service (one message for
every way in); the form only carries the text and, for instructors, the model-answer mark."""

from django import forms

from community.models import PromptAnswer
from community.prompts import PromptState


class PromptAnswerForm(forms.Form):
    body = forms.CharField(
        label="Your answer",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "required": True}),
        help_text="Markdown: **bold**, *italics*, `code`, lists and links.",
    )
    model = forms.BooleanField(
        label="Mark as the model answer",
        required=False,
        help_text="Learners see it with their peers' answers once they have written their own.",
    )

    def __init__(self, *args: object, prompt_pk: int, instructor: bool, **kwargs: object) -> None:
        kwargs.setdefault("auto_id", f"prompt-{prompt_pk}-%s")
        super().__init__(*args, **kwargs)
        if not instructor:
            del self.fields["model"]


def answer_form(state: PromptState, data: object = None) -> PromptAnswerForm:
    """The prompt's form, filled with the user's answer when they have one; bound to `data` when given."""
    mine: PromptAnswer | None = state.mine
    initial = {"body": mine.body, "model": mine.is_model} if mine is not None else {}
    return PromptAnswerForm(data, prompt_pk=state.prompt.pk, instructor=state.instructor, initial=initial)


def with_form(state: PromptState, data: object = None) -> PromptState:
    state.form = answer_form(state, data)
    return state
