from django import forms

from sandbox.registry.models import RegisteredModel
from sandbox.registry.services import MAX_ALIAS
from sandbox.serving.models import Strategy
from sandbox.serving.services import MAX_REASON, MAX_TOKEN_NAME

CONTENT_TYPES = [("application/json", "application/json"), ("text/csv", "text/csv")]


class _Target(forms.Form):
    """What to deploy: a version by its number, or whatever an alias points at."""

    version = forms.IntegerField(
        min_value=1, max_value=2**31 - 1, required=False, label="Version number",
        help_text="Or leave empty and name an alias.",
    )  # fmt: skip
    alias = forms.CharField(max_length=MAX_ALIAS, required=False, strip=False, help_text="e.g. champion.")

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("version") and not cleaned.get("alias"):
            raise forms.ValidationError("Name the version number or the alias to deploy.")
        if cleaned.get("version") and cleaned.get("alias"):
            raise forms.ValidationError("Deploy either a version number or an alias, not both.")
        return cleaned


class DeploymentForm(_Target):
    name = forms.CharField(max_length=63, label="Endpoint name", help_text="Lower-case letters, digits, dashes.")
    model = forms.ModelChoiceField(queryset=None, empty_label=None, label="Model")
    field_order = ["name", "model", "version", "alias"]

    def __init__(self, *args: object, owner: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = RegisteredModel.objects.filter(owner=owner)


class ReleaseForm(_Target):
    strategy = forms.ChoiceField(choices=Strategy.choices, initial=Strategy.CANARY)
    canary_percent = forms.IntegerField(
        min_value=1, max_value=99, required=False, initial=20, label="Canary share (%)",
        help_text="For a canary: the share of requests the new version answers.",
    )  # fmt: skip
    reason = forms.CharField(max_length=MAX_REASON, required=False, label="Why")
    field_order = ["version", "alias", "strategy", "canary_percent", "reason"]

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("strategy") == Strategy.CANARY and not cleaned.get("canary_percent"):
            self.add_error("canary_percent", "A canary needs its share of the requests, between 1 and 99.")
        return cleaned


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=MAX_REASON, required=False, label="Why")


class RollbackForm(forms.Form):
    reason = forms.CharField(
        max_length=MAX_REASON, label="Why roll back", help_text="Kept on the release history and the alias timeline."
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        # Its page also shows the release form, which has a reason of its own.
        kwargs.setdefault("auto_id", "id_rollback_%s")
        super().__init__(*args, **kwargs)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=MAX_TOKEN_NAME, label="Token name", help_text="e.g. laptop, or load-test.")


class TryForm(forms.Form):
    content_type = forms.ChoiceField(choices=CONTENT_TYPES, label="Content-Type")
    body = forms.CharField(
        max_length=200_000, strip=False, widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        label="Request body",
    )  # fmt: skip
