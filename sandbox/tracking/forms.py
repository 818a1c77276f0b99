from django import forms

from mlopslab.lazy import lazy_module
from sandbox.datasets.models import Dataset
from sandbox.tracking.models import Experiment
from sandbox.tracking.services import RunConfig

training = lazy_module("sandbox.ml.training")


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=100)
    dataset = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args: object, owner: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # The course corpus is evaluated on the RAG page (sandbox.llmops); nothing trains on it.
        self.fields["dataset"].queryset = Dataset.objects.filter(owner=owner).exclude(source=Dataset.Source.CORPUS)
        self.fields["dataset"].empty_label = None


class RunForm(forms.Form):
    """A run's settings; the algorithm's own parameters are added from its schema."""

    algorithm = forms.ChoiceField()
    version = forms.ModelChoiceField(queryset=None, label="Data version", empty_label=None)
    impute = forms.ChoiceField(choices=lambda: [(v, v.replace("_", " ")) for v in training.IMPUTE], initial="median")
    scale = forms.BooleanField(required=False, initial=True, label="Scale numeric columns")
    one_hot = forms.BooleanField(required=False, initial=True, label="One-hot encode text columns")
    test_size = forms.FloatField(min_value=0.1, max_value=0.4, initial=0.2, label="Test share")
    validation_size = forms.FloatField(min_value=0.1, max_value=0.4, initial=0.2, label="Validation share")
    cv_folds = forms.TypedChoiceField(
        choices=[(0, "none"), (3, "3-fold"), (5, "5-fold"), (10, "10-fold")],
        coerce=int,
        initial=0,
        label="Cross-validation",
    )
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=42)
    name = forms.CharField(max_length=100, required=False, help_text="Optional; a name is made up otherwise.")

    def __init__(self, *args: object, experiment: Experiment, algorithm: str | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        task = experiment.dataset.task
        keys = [a for a in training.ALGORITHMS.values() if a.task == task]
        self.fields["algorithm"].choices = [(a.key, a.label) for a in keys]
        self.fields["version"].queryset = experiment.dataset.versions.all()
        chosen = self.data.get("algorithm") or algorithm or keys[0].key
        # Named `chosen`, not `algorithm`: templates look up form["algorithm"] (the field) first.
        self.chosen = training.ALGORITHMS.get(chosen, keys[0])
        self.fields["algorithm"].initial = self.chosen.key
        for param in self.chosen.params:
            name = f"param_{param.name}"
            if param.kind == "choice":
                self.fields[name] = forms.ChoiceField(choices=[(c, c) for c in param.choices], initial=param.default)
            elif param.kind == "int":
                self.fields[name] = forms.IntegerField(
                    min_value=int(param.minimum), max_value=int(param.maximum), initial=param.default
                )
            else:
                self.fields[name] = forms.FloatField(
                    min_value=param.minimum, max_value=param.maximum, initial=param.default
                )
            self.fields[name].label = param.name
            self.fields[name].help_text = param.help + (" " if param.help else "") + f"Default {param.default}."
            self.fields[name].required = False
        self.param_names = [f"param_{p.name}" for p in self.chosen.params]

    def clean(self) -> dict:
        cleaned = super().clean()
        test, validation = cleaned.get("test_size"), cleaned.get("validation_size")
        if test is not None and validation is not None and test + validation > 0.6:
            raise forms.ValidationError("Keep at least 40% of the rows for training (test plus validation ≤ 0.6).")
        return cleaned

    def config(self) -> RunConfig:
        data = self.cleaned_data
        defaults = {p.name: p.default for p in self.chosen.params}
        params = {name.removeprefix("param_"): data.get(name) for name in self.param_names}
        return RunConfig(
            algorithm=self.chosen.key,
            params={name: defaults[name] if value in (None, "") else value for name, value in params.items()},
            preparation=training.Preparation(impute=data["impute"], scale=data["scale"], one_hot=data["one_hot"]),
            split=training.Split(
                test_size=data["test_size"], validation_size=data["validation_size"], cv_folds=data["cv_folds"]
            ),
            seed=data["seed"],
        )


class SweepForm(RunForm):
    """A run form plus, for each parameter, an optional comma-separated list of values to sweep."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        # Shown on the same page as a RunForm: its own ids, the same field names.
        kwargs.setdefault("auto_id", "sweep_%s")
        super().__init__(*args, **kwargs)
        del self.fields["name"]
        for param in self.chosen.params:
            self.fields[f"sweep_{param.name}"] = forms.CharField(
                required=False, label=f"{param.name} values", help_text="Comma-separated, e.g. 3, 5, 10"
            )

    def clean(self) -> dict:
        cleaned = super().clean()
        cleaned["grid"] = self._grid()
        return cleaned

    def _grid(self) -> dict[str, list]:
        grid = {}
        for param in self.chosen.params:
            raw = self.cleaned_data.get(f"sweep_{param.name}", "")
            values = [v.strip() for v in raw.split(",") if v.strip()]
            if not values:
                continue
            parsed = []
            for value in values:
                try:
                    parsed.append(
                        int(value) if param.kind == "int" else float(value) if param.kind == "float" else value
                    )
                except ValueError:
                    raise forms.ValidationError(f"{param.name}: {value!r} is not a number.") from None
            grid[param.name] = list(dict.fromkeys(parsed))
        return grid


class TagForm(forms.Form):
    key = forms.CharField(max_length=50)
    value = forms.CharField(max_length=200, required=False)


class NoteForm(forms.Form):
    note = forms.CharField(max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
