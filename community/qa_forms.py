"""Forms of the questions and answers. They only collect what was typed: the rules (empty, too long, only links,
too many posts) are the services', so a refusal reads the same whichever way a post arrives."""

from django import forms

from community.models import BODY_MAX, TITLE_MAX
from lessons.course import course_snapshot
from lessons.models import Lesson, Node

MARKDOWN_HELP = "Markdown: `code`, ```fenced blocks```, **bold**, lists and links. HTML is shown as typed."


class AskForm(forms.Form):
    title = forms.CharField(
        required=False, strip=False, widget=forms.TextInput(attrs={"maxlength": TITLE_MAX, "autocomplete": "off"}),
        help_text="One sentence: what you tried and what went wrong.",
    )  # fmt: skip
    body = forms.CharField(
        label="Details", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 10}),
        help_text=f"{MARKDOWN_HELP} Up to {BODY_MAX:,} characters.",
    )  # fmt: skip
    node = forms.ChoiceField(label="Stage", required=False)
    lesson = forms.ChoiceField(label="Lesson", required=False, help_text="Optional: one lesson of that stage.")
    attach = forms.MultipleChoiceField(
        label="Attach from your sandbox", required=False, widget=forms.CheckboxSelectMultiple,
        help_text="A copy is taken now: readers see it as it is today, without access to your sandbox.",
    )  # fmt: skip

    def __init__(self, *args: object, attachable: list | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        snapshot = course_snapshot()
        self.stages = {str(node.pk): node for node in snapshot.nodes}
        self.lessons = {str(lesson.pk): lesson for lessons in snapshot.lessons.values() for lesson in lessons}
        self.fields["node"].choices = [("", "Not about one stage"), *((pk, n.title) for pk, n in self.stages.items())]
        groups = [
            (node.title, [(str(lesson.pk), lesson.title) for lesson in snapshot.lessons.get(node.pk, [])])
            for node in snapshot.nodes
            if snapshot.lessons.get(node.pk)
        ]
        self.fields["lesson"].choices = [("", "Not about one lesson"), *groups]
        self.attachable = {item.ref: item for item in attachable or []}
        self.fields["attach"].choices = [(item.ref, item.label) for item in attachable or []]

    def clean_node(self) -> Node | None:
        return self.stages.get(self.cleaned_data["node"])

    def clean_lesson(self) -> Lesson | None:
        return self.lessons.get(self.cleaned_data["lesson"])


class BodyForm(forms.Form):
    """An answer's or a comment's text."""

    body = forms.CharField(label="Your answer", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args: object, label: str = "Your answer", prefix_id: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["body"].label = label
        if prefix_id:
            self.fields["body"].widget.attrs["id"] = prefix_id
