from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from sandbox.monitoring.models import Onset, Scenario

TEST_CHOICES = [
    ("", "Default (as Evidently chooses)"),
    ("ks", "Kolmogorov–Smirnov (p-value)"),
    ("chisquare", "Chi-square (p-value)"),
    ("z", "Z-test for proportions (p-value)"),
    ("wasserstein", "Wasserstein, normed (distance)"),
    ("jensenshannon", "Jensen–Shannon (distance)"),
    ("psi", "PSI (index)"),
]


class TrafficForm(forms.Form):
    """Send simulated traffic. The scenario's details are plain fields; the service builds its settings.

    Each of the dashboard's forms has a prefix of its own: they share field names (a window, a canary share), and
    the ids of their inputs must differ on the one page."""

    prefix = "traffic"

    requests = forms.IntegerField(min_value=1, max_value=10_000, initial=1000, label="Requests")
    rate = forms.FloatField(min_value=0.5, max_value=200, initial=50, label="Requests per second")
    scenario = forms.ChoiceField(choices=Scenario.choices, initial=Scenario.NONE)
    onset = forms.ChoiceField(choices=Onset.choices, initial=Onset.SUDDEN, label="Drift starts")
    drift_from = forms.IntegerField(min_value=0, initial=300, label="From request", help_text="0 is the first.")
    ramp = forms.IntegerField(
        min_value=0, initial=0, required=False, label="Ramp (requests)",
        help_text="Gradual drift grows to its full size over this many requests.",
    )  # fmt: skip
    feature = forms.ChoiceField(
        choices=[], required=False, label="Feature",
        help_text="Data drift: the feature to change. Concept drift: the label swaps where this feature is high.",
    )  # fmt: skip
    shift = forms.FloatField(
        required=False, initial=1.0, min_value=-10, max_value=10, label="Shift (standard deviations)",
        help_text="Numeric data drift: added to the feature, in reference standard deviations.",
    )  # fmt: skip
    scale = forms.FloatField(
        required=False, min_value=0.0, max_value=10, label="Rescale by",
        help_text="Numeric data drift: spread around the mean multiplied by this (1 = unchanged).",
    )  # fmt: skip
    category = forms.CharField(
        required=False, max_length=200, label="Category",
        help_text="Categorical data drift: this value takes the share below.",
    )  # fmt: skip
    share = forms.FloatField(required=False, min_value=0, max_value=1, label="Its share", initial=0.8)
    balance_class = forms.CharField(
        required=False, max_length=200, label="Class", help_text="Label drift: the class whose share changes."
    )
    balance_share = forms.FloatField(required=False, min_value=0, max_value=1, initial=0.8, label="Class share")
    label_delay = forms.IntegerField(
        min_value=0, max_value=3600, initial=5, label="Labels arrive after (seconds)",
        help_text="Ground truth comes late in production; accuracy shows only once it has arrived.",
    )  # fmt: skip
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, required=False, label="Seed")

    def __init__(self, *args: object, inputs: list[str], classes: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["feature"].choices = [("", "—"), *[(name, name) for name in inputs]]
        self.classes = classes

    def clean(self) -> dict:
        cleaned = super().clean()
        scenario = cleaned.get("scenario")
        feature = cleaned.get("feature")
        settings: dict = {}
        if scenario == Scenario.DATA:
            if not feature:
                self.add_error("feature", "Choose the feature the data drift changes.")
            elif cleaned.get("category"):
                settings["categories"] = {feature: {cleaned["category"]: cleaned.get("share") or 0.8}}
            else:
                if cleaned.get("shift"):
                    settings["shift"] = {feature: cleaned["shift"]}
                if cleaned.get("scale") not in (None, 1.0):
                    settings["scale"] = {feature: cleaned["scale"]}
                if not settings:
                    self.add_error("shift", "Give a shift, a rescale factor other than 1, or a category and its share.")
        elif scenario == Scenario.CONCEPT:
            if not feature:
                self.add_error("feature", "Choose the feature whose upper half gets swapped labels.")
            settings["feature"] = feature
        elif scenario == Scenario.LABEL:
            chosen = (cleaned.get("balance_class") or "").strip()
            if not chosen:
                self.add_error(
                    "balance_class", f"Name the class whose share changes: one of {', '.join(self.classes)}."
                )
            share = cleaned.get("balance_share")
            share = 0.8 if share is None else share
            others = [name for name in self.classes if name != chosen]
            rest = (1 - share) / len(others) if others else 0
            settings["balance"] = {chosen: share, **dict.fromkeys(others, rest)}
        cleaned["settings"] = settings
        cleaned["ramp"] = cleaned.get("ramp") or 0
        return cleaned


class ReportForm(forms.Form):
    prefix = "report"
    window = forms.IntegerField(
        min_value=10, max_value=100_000, initial=500, required=False, label="Newest requests",
        help_text="The current window: this many of the newest answered requests.",
    )  # fmt: skip
    upload = forms.FileField(required=False, label="Or upload a CSV batch", help_text="Columns named as the inputs.")
    drift_share = forms.FloatField(
        min_value=0.01, max_value=1, initial=0.5, label="Dataset drift when this share of columns drifted"
    )

    def __init__(self, *args: object, inputs: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.inputs = inputs
        for at, name in enumerate(inputs):
            self.fields[f"test_{at}"] = forms.ChoiceField(
                choices=TEST_CHOICES, required=False, label=f"Test for {name}"
            )
            self.fields[f"threshold_{at}"] = forms.FloatField(
                required=False, min_value=0.0001, max_value=99, label=f"Threshold for {name}"
            )

    def test_rows(self) -> SafeString:
        """Every input's test and threshold as one fragment of HTML, written here rather than by the widgets'
        templates: a model with 30 inputs has 60 of them, and their templates cost the dashboard 50 ms."""
        rows = []
        for at, name in enumerate(self.inputs):
            test, threshold = self[f"test_{at}"], self[f"threshold_{at}"]
            chosen = str(test.value() or "")
            options = format_html_join(
                "", '<option value="{}"{}>{}</option>',
                ((value, mark_safe(" selected") if value == chosen else "", label) for value, label in TEST_CHOICES),
            )  # fmt: skip
            value = threshold.value()
            errors = format_html_join("", '<p class="error" role="alert">{}</p>', ((e,) for e in threshold.errors))
            rows.append(
                format_html(
                    '<fieldset class="field"><legend>{}</legend><label for="{}">Test</label>'
                    '<select name="{}" id="{}">{}</select><label for="{}">Threshold</label>'
                    '<input type="number" name="{}" id="{}" step="any" min="0.0001" max="99"{}>{}</fieldset>',
                    name,
                    test.id_for_label,
                    test.html_name,
                    test.id_for_label,
                    options,
                    threshold.id_for_label,
                    threshold.html_name,
                    threshold.id_for_label,
                    format_html(' value="{}"', value) if value not in (None, "") else "",
                    errors,
                )
            )
        # Every part was escaped by format_html.
        return mark_safe("".join(rows))

    def clean(self) -> dict:
        cleaned = super().clean()
        tests = {}
        for at, name in enumerate(self.inputs):
            test = cleaned.get(f"test_{at}")
            if test:
                tests[name] = [test, cleaned.get(f"threshold_{at}")]
        cleaned["tests"] = tests
        return cleaned


class PolicyForm(forms.Form):
    prefix = "policy"
    enabled = forms.BooleanField(required=False, initial=True, label="Check for drift")
    every_minutes = forms.IntegerField(min_value=1, max_value=1440, required=False, label="Every N minutes")
    every_requests = forms.IntegerField(
        min_value=10, max_value=100_000, required=False, label="Or after every K requests"
    )
    window = forms.IntegerField(min_value=10, max_value=100_000, initial=500, label="Requests each check reads")
    drift_share = forms.FloatField(min_value=0.01, max_value=1, initial=0.5, label="Drift share")
    retrain = forms.BooleanField(required=False, label="Retrain on drift")
    recent_only = forms.BooleanField(
        required=False, label="Train on recent labelled requests only",
        help_text="Off: the training data plus the recent labelled requests. On: a changed concept is learnt alone.",
    )  # fmt: skip
    algorithm = forms.ChoiceField(choices=[], required=False, label="Retrain with")
    canary_percent = forms.IntegerField(min_value=1, max_value=99, initial=20, label="Canary share (%)")
    promote = forms.BooleanField(required=False, label="Promote the canary when it does at least as well")
    promote_after = forms.IntegerField(
        min_value=10, max_value=10_000, initial=50, label="After this many labelled requests"
    )

    def __init__(self, *args: object, algorithms: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["algorithm"].choices = [("", "The same algorithm and parameters"), *algorithms]


class RetrainForm(forms.Form):
    prefix = "retrain"
    algorithm = forms.ChoiceField(choices=[], required=False, label="Algorithm")
    recent_only = forms.BooleanField(required=False, label="Recent labelled requests only")
    rows = forms.IntegerField(
        min_value=50, max_value=5000, initial=1000, label="Newest requests to learn from",
        help_text="Their arrived labels join the training data (or replace it, with the box above ticked).",
    )  # fmt: skip
    canary_percent = forms.IntegerField(
        min_value=1, max_value=99, initial=20, label="Canary share of the new version (%)"
    )

    def __init__(self, *args: object, algorithms: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["algorithm"].choices = [("", "The same algorithm and parameters"), *algorithms]


class GuessForm(forms.Form):
    prefix = "guess"
    feature = forms.ChoiceField(choices=[], label="The drifted feature")

    def __init__(self, *args: object, inputs: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["feature"].choices = [(name, name) for name in inputs]
