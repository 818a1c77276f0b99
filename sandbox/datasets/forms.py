from django import forms

from sandbox.ml import catalog


class BuiltinDatasetForm(forms.Form):
    builtin = forms.ChoiceField(
        label="Dataset",
        choices=[(k, f"{k.replace('_', ' ')} ({v[1]}): {v[2]}") for k, v in catalog.BUILTIN.items()],
    )


class ChurnForm(forms.Form):
    rows = forms.IntegerField(min_value=100, max_value=50_000, initial=2000, help_text="100 to 50,000 customers.")
    noise = forms.FloatField(min_value=0, max_value=0.5, initial=0.1, help_text="Share of labels flipped at random.")
    churn_rate = forms.FloatField(
        min_value=0.02,
        max_value=0.8,
        initial=0.2,
        help_text="Share of churners before the label noise; the noise flips labels both ways, so 0.2 with "
        "0.1 noise gives about 26 % churners.",
    )
    missing_rate = forms.FloatField(min_value=0, max_value=0.3, initial=0.02, help_text="Share of cells left empty.")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)


class NewChurnDatasetForm(ChurnForm):
    name = forms.CharField(max_length=100, initial="customer churn")
    field_order = ["name", "rows", "noise", "churn_rate", "missing_rate", "seed"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        # Beside the upload form, which also has a name: ids of its own, the same field names.
        kwargs.setdefault("auto_id", "churn_%s")
        super().__init__(*args, **kwargs)


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8, with a header row; at most 10 MB, 200,000 rows and 200 columns.")

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > catalog.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is {upload.size / 1e6:.1f} MB; the limit is 10 MB.")
        return upload.read()


class NewUploadDatasetForm(UploadForm):
    name = forms.CharField(max_length=100)
    target = forms.CharField(max_length=200, help_text="The column the model should predict.")
    field_order = ["name", "file", "target"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("auto_id", "upload_%s")
        super().__init__(*args, **kwargs)
