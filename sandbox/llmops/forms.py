from django import forms

from sandbox.llmops import rag


class RagConfigForm(forms.Form):
    """A new configuration version; every bound the pipeline has is checked here and again by the service."""

    prompt_template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=rag.TEMPLATE_MAX,
        help_text="Must contain {context} and {question}; they are replaced by the retrieved chunks and the question.",
        strip=False,
    )
    chunk_size = forms.IntegerField(
        min_value=rag.CHUNK_SIZE_RANGE[0], max_value=rag.CHUNK_SIZE_RANGE[1], help_text="Words per chunk, 20 to 400."
    )
    chunk_overlap = forms.IntegerField(
        min_value=0, help_text="Words each chunk repeats from the one before: 0 to half the chunk size."
    )
    top_k = forms.IntegerField(
        min_value=rag.TOP_K_RANGE[0],
        max_value=rag.TOP_K_RANGE[1],
        label="top_k",
        help_text="Chunks retrieved, 1 to 10.",
    )
    ngram_max = forms.TypedChoiceField(
        choices=[(1, "1: single words"), (2, "2: words and pairs of words")], coerce=int, label="ngram_max"
    )
    sublinear_tf = forms.BooleanField(required=False, label="sublinear_tf (1 + log of term counts)")
    stop_words = forms.ChoiceField(choices=[("none", "none"), ("english", "english")], label="stop_words")
    include_title = forms.BooleanField(required=False, label="Prepend each document's title to its chunks")
    note = forms.CharField(max_length=200, required=False, help_text="Optional: what you changed and why.")

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        problems = rag.config_problems(self.config())
        for name, message in problems.items():
            self.add_error(name if name in self.fields else None, message)
        return data

    def config(self) -> rag.RagConfig:
        data = self.cleaned_data
        return rag.RagConfig(**{name: data[name] for name in rag.RagConfig.__dataclass_fields__})


def initial_from(config: rag.RagConfig) -> dict:
    return config.as_params()
