"""The incident drill's forms: start one on a version, report the cause, apply a fix. Each lists every choice
whatever the drill's fault, so the form itself gives nothing away."""

from django import forms

from sandbox.monitoring.models import Drill
from sandbox.registry.models import ModelVersion

NO_COLUMN = "none"


class VersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, version: ModelVersion) -> str:
        return f"{version.registered_model.name} v{version.number} ({version.run.algorithm.replace('_', ' ')})"


class DrillStartForm(forms.Form):
    version = VersionChoice(
        queryset=ModelVersion.objects.none(), empty_label=None, label="Model version",
        help_text="The drill deploys it behind an endpoint of its own and sends it hidden traffic.",
    )  # fmt: skip

    def __init__(self, *args: object, versions: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = versions


class DrillReportForm(forms.Form):
    cause = forms.ChoiceField(choices=[("", "Choose the cause"), *Drill.Fault.choices], label="What went wrong")
    column = forms.ChoiceField(
        choices=[], label="Which column",
        help_text="For a drifted feature or a broken column: the input it is in. Otherwise choose none.",
    )  # fmt: skip

    def __init__(self, *args: object, inputs: list[str], **kwargs: object) -> None:
        kwargs.setdefault("auto_id", "id_report_%s")
        super().__init__(*args, **kwargs)
        self.fields["column"].choices = [
            (NO_COLUMN, "None (a latency, concept or label-balance fault)"),
            *[(name, name) for name in inputs],
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        cause, column = cleaned.get("cause"), cleaned.get("column")
        if cause in (Drill.Fault.DATA, Drill.Fault.NULLS) and column == NO_COLUMN:
            self.add_error("column", f"{Drill.Fault(cause).label} is in one column: choose it.")
        return cleaned


class DrillFixForm(forms.Form):
    fix = forms.ChoiceField(choices=[("", "Choose a fix"), *Drill.Fix.choices], label="The fix")
    column = forms.ChoiceField(
        choices=[], required=False, label="Column to refuse when empty",
        help_text="Only for refusing a broken column: requests that leave it empty get 400 instead of an answer.",
    )  # fmt: skip

    def __init__(self, *args: object, inputs: list[str], **kwargs: object) -> None:
        kwargs.setdefault("auto_id", "id_fix_%s")
        super().__init__(*args, **kwargs)
        self.fields["column"].choices = [("", "—"), *[(name, name) for name in inputs]]

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("fix") == Drill.Fix.REFUSE and not cleaned.get("column"):
            self.add_error("column", "Choose the column whose empty requests the endpoint should refuse.")
        return cleaned
