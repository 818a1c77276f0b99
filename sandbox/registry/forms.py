from django import forms

from sandbox.registry.models import RegisteredModel
from sandbox.registry.services import MAX_ALIAS, MAX_DESCRIPTION, MAX_NAME, MAX_REASON, MAX_TAG_KEY, MAX_TAG_VALUE


class RegisterForm(forms.Form):
    """Register a run's model: as the next version of one of the learner's models, or of a new one by name."""

    model = forms.ModelChoiceField(queryset=None, required=False, empty_label="A new model…", label="Model")
    name = forms.CharField(
        max_length=MAX_NAME, required=False, label="New model's name", help_text="When registering as a new model."
    )
    description = forms.CharField(
        max_length=MAX_DESCRIPTION, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional, Markdown.",
    )  # fmt: skip

    def __init__(self, *args: object, owner: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = RegisteredModel.objects.filter(owner=owner)

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("model") and not (cleaned.get("name") or "").strip():
            raise forms.ValidationError("Choose one of your models, or name a new one.")
        return cleaned


class ModelCreateForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME)
    description = forms.CharField(
        max_length=MAX_DESCRIPTION, required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Markdown."
    )


class DescriptionForm(forms.Form):
    description = forms.CharField(
        max_length=MAX_DESCRIPTION, required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Markdown: **bold**, lists, `code`, links.",
    )  # fmt: skip


class TagForm(forms.Form):
    key = forms.CharField(max_length=MAX_TAG_KEY, strip=False)
    value = forms.CharField(max_length=MAX_TAG_VALUE, required=False, strip=False)


class TagDeleteForm(forms.Form):
    key = forms.CharField(max_length=MAX_TAG_KEY, strip=False)


class AliasForm(forms.Form):
    alias = forms.CharField(max_length=MAX_ALIAS, strip=False, help_text="e.g. challenger; champion uses the gate.")
    version = forms.IntegerField(min_value=1, max_value=2**31 - 1, label="Version number")
    reason = forms.CharField(max_length=MAX_REASON, required=False, label="Why")


class AliasDeleteForm(forms.Form):
    alias = forms.CharField(max_length=MAX_ALIAS, strip=False)
    reason = forms.CharField(max_length=MAX_REASON, required=False, label="Why")


class AsOfForm(forms.Form):
    """Which version did an alias point at on a date and time (UTC, to the second)?"""

    alias = forms.CharField(max_length=MAX_ALIAS, initial="champion")
    when = forms.DateTimeField(
        label="On (UTC)",
        input_formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        # Shown on the same page as the alias form: its own ids, the same field names.
        kwargs.setdefault("auto_id", "as_of_%s")
        super().__init__(*args, **kwargs)


class PromoteForm(forms.Form):
    tolerance = forms.FloatField(
        min_value=0, max_value=1, initial=0.01,
        help_text="Passes when this version's metric is at least the champion's minus this.",
    )  # fmt: skip
    latency_limit_ms = forms.FloatField(
        min_value=0.1, max_value=10_000, initial=50, label="Latency limit (ms)",
        help_text="For the median one-row prediction.",
    )  # fmt: skip
    reason = forms.CharField(max_length=MAX_REASON, required=False, label="Why promote it")


class OverrideForm(forms.Form):
    validation = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=MAX_REASON, label="Reason for overriding the gate", widget=forms.Textarea(attrs={"rows": 2})
    )
