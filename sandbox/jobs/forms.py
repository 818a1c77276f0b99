from django import forms

from sandbox.ml.catalog import MAX_EPOCHS


class FirstModelForm(forms.Form):
    epochs = forms.IntegerField(
        min_value=1, max_value=MAX_EPOCHS, initial=20, help_text=f"Passes over the training data (1–{MAX_EPOCHS})."
    )
    seed = forms.IntegerField(
        min_value=0, max_value=2**31 - 1, initial=0, help_text="Fixes the split and the shuffling."
    )
