"""The lesson editor's forms. They check only what a field's type says; everything the lesson's file must satisfy
(a title, a good slug, links that lead somewhere) is `studio.items.check`'s, reported by line of the file."""

from django import forms

from lessons.models import Lesson, Node

MAX_ORDER = 32767  # Lesson.order is a PositiveSmallIntegerField


def normalized_body(value: str) -> str:
    """The body as the lesson's file reader gives it back: Unix line ends, no blank lines around it, one final line
    break. Saving it so keeps the studio's fields equal to the file's, and its lines where the editor shows them."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip("\n") + "\n"


class BodyField(forms.CharField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(required=False, strip=False, widget=forms.Textarea(attrs={"wrap": "off"}), **kwargs)

    def clean(self, value: object) -> str:
        return normalized_body(super().clean(value) or "")


class LessonEditForm(forms.Form):
    title = forms.CharField(max_length=Lesson._meta.get_field("title").max_length, required=False)
    order = forms.IntegerField(min_value=0, max_value=MAX_ORDER, help_text="Lessons of a stage are shown by order.")
    body = BodyField(label="Body (Markdown)")
    message = forms.CharField(
        max_length=200, required=False, label="Message", help_text="What you changed, in a few words, for the history."
    )
    base_number = forms.IntegerField(min_value=0, widget=forms.HiddenInput)

    FILE_FIELDS = ("title", "order", "body")

    def lesson_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.FILE_FIELDS}


class LessonCreateForm(forms.Form):
    node = forms.ModelChoiceField(
        queryset=Node.objects.order_by("order"), to_field_name="slug", label="Stage", empty_label=None
    )
    slug = forms.CharField(
        max_length=Lesson._meta.get_field("slug").max_length,
        required=False,
        help_text="Part of the lesson's address: lowercase words joined by hyphens, such as model-cards.",
    )
    title = forms.CharField(max_length=Lesson._meta.get_field("title").max_length, required=False)
    order = forms.IntegerField(min_value=0, max_value=MAX_ORDER, help_text="Lessons of a stage are shown by order.")
    body = BodyField(label="Body (Markdown)")
    message = forms.CharField(
        max_length=200, required=False, label="Message", help_text="Why this lesson, in a few words, for the history."
    )

    def lesson_data(self) -> dict:
        data = self.cleaned_data
        return {
            "node": data["node"].slug,
            "slug": data["slug"],
            "title": data["title"],
            "order": data["order"],
            "status": Lesson.Status.DRAFT.value,
            "body": data["body"],
        }


class LessonPreviewForm(forms.Form):
    """What the editor sends while typing; a field that does not read is previewed as empty and named."""

    node = forms.CharField(max_length=50, required=False)
    slug = forms.CharField(max_length=50, required=False)
    title = forms.CharField(max_length=160, required=False)
    order = forms.IntegerField(min_value=0, max_value=MAX_ORDER, required=False)
    body = BodyField()


class StatusForm(forms.Form):
    base_number = forms.IntegerField(min_value=0)
