from django import forms


class FreeRoamForm(forms.Form):
    free_roam = forms.BooleanField(required=False)
