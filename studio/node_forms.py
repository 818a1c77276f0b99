"""The forms of the studio's stage, glossary and FAQ editors: each turns what an author typed into the item's
`studio.item_data` mapping, which `studio.revisions.item_save` checks as the content files are checked.

A form checks only what a form can (a number is a number, a required field is filled); every rule of the
content files, unknown prerequisites and cycles included, is `studio.items.check`'s, so the studio and
`sync_content` never disagree.
"""

from django import forms

from lessons import challenges
from lessons.content_files import SLUG
from lessons.models import FaqEntry, GlossaryTerm, Node
from studio.item_data import Data

NO_CHALLENGE = ""
RESERVED_SLUGS = {"new", "check"}
"""Taken by the studio's own addresses (`stages/new/`, `stages/check/`), so no stage or term can be named so."""


def known_challenges() -> list[str]:
    """Every challenge key the site checks (registered by the sandbox) or a stage names (its node.yaml)."""
    registered = set(challenges.challenge_keys())
    named = set(Node.objects.exclude(challenge_key="").values_list("challenge_key", flat=True))
    return sorted(registered | named)


def markdown_kept(typed: str, before: str) -> str:
    """Markdown as typed, with a browser's CRLF made LF. A text the author left as it was keeps its stored form
    exactly (its trailing newline too), so an untouched field never shows as a change in a revision's diff."""
    text = typed.replace("\r\n", "\n").replace("\r", "\n")
    if text.strip() == before.strip():
        return before
    text = text.rstrip()
    return text + "\n" if "\n" in text else text


class SlugList(forms.MultipleChoiceField):
    """Checkboxes of the stages, that still passes on a slug no longer offered (a stage removed meanwhile, or a
    hand-made request): the content check then refuses it as an unknown prerequisite by its line."""

    def valid_value(self, value: str) -> bool:
        return bool(SLUG.match(str(value)))


class _Saving(forms.Form):
    """The two fields every studio editor saves with."""

    message = forms.CharField(
        max_length=200, required=False, help_text="A few words on what changed, kept with the revision."
    )
    base_number = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)


class NodeForm(_Saving):
    slug = forms.CharField(
        max_length=50, help_text="Lowercase words joined by hyphens, such as <code>data-prep</code>. Fixed once saved."
    )
    title = forms.CharField(max_length=120)
    order = forms.IntegerField(min_value=1, max_value=999, help_text="Where the stage stands on the map.")
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    objectives = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, help_text="One objective per line."
    )
    prerequisites = SlugList(
        widget=forms.CheckboxSelectMultiple, required=False, help_text="The stages a learner completes first."
    )
    pass_mark = forms.IntegerField(
        min_value=1, max_value=100, initial=80, label="Pass mark (%)", help_text="Share of quiz questions to get right."
    )
    challenge = forms.ChoiceField(required=False, help_text="The sandbox challenge that completes the stage.")
    field_order = ["slug", "title", "order", "summary", "objectives", "prerequisites", "pass_mark", "challenge"]

    def __init__(self, *args: object, node_slug: str | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.node_slug = node_slug
        others = Node.objects.exclude(slug=node_slug or "").order_by("order").values_list("slug", "title")
        self.fields["prerequisites"].choices = [(slug, title) for slug, title in others]
        keys = known_challenges()
        current = (self.initial or {}).get("challenge", "")
        if current and current not in keys:
            keys.append(current)
        self.fields["challenge"].choices = [(NO_CHALLENGE, "None: the quiz alone completes the stage")] + [
            (key, key) for key in keys
        ]
        if node_slug is not None:
            # The slug names the stage's folder, its revisions and every link to it: fixed once the stage exists.
            del self.fields["slug"]

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].strip()
        if not SLUG.match(slug):
            raise forms.ValidationError("Use lowercase letters and digits, words joined by single hyphens.")
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"“{slug}” is taken by the studio's own pages; choose another slug.")
        return slug

    def item_data(self) -> Data:
        """The stage as `item_data` has it, from a valid form."""
        values = self.cleaned_data
        return {
            "slug": self.node_slug or values["slug"],
            "title": values["title"],
            "order": values["order"],
            "prerequisites": sorted(set(values["prerequisites"])),
            "challenge": values["challenge"] or "",
            "summary": values["summary"].replace("\r\n", "\n").strip(),
            "objectives": [line.strip() for line in values["objectives"].splitlines() if line.strip()],
            "pass_mark": values["pass_mark"],
        }

    @staticmethod
    def initial_from(data: Data) -> dict:
        return {**data, "objectives": "\n".join(data["objectives"])}


class TermForm(_Saving):
    slug = forms.CharField(
        max_length=50, help_text="Lowercase words joined by hyphens; lessons link it as <code>glossary:slug</code>."
    )
    term = forms.CharField(max_length=120)
    aliases = forms.CharField(
        max_length=500, required=False, help_text="Other names lessons use for it, separated by commas."
    )
    definition = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        strip=False,
        help_text="Plain text, a sentence or three: the glossary page and the lessons' term links show it as written.",
    )
    match_case = forms.BooleanField(
        required=False, help_text="Link only where the term is written with these capitals (for names like PSI)."
    )
    field_order = ["slug", "term", "aliases", "definition", "match_case"]

    def __init__(self, *args: object, term_slug: str | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.term_slug = term_slug
        if term_slug is not None:
            del self.fields["slug"]

    clean_slug = NodeForm.clean_slug

    def clean_definition(self) -> str:
        definition = self.cleaned_data["definition"].replace("\r\n", "\n").strip()
        if not definition:
            raise forms.ValidationError("This field is required.")
        return definition

    def clean(self) -> dict:
        """A phrase links one term only: the files refuse a term or alias that another term already uses."""
        cleaned = super().clean()
        phrases = [cleaned.get("term", ""), *self._aliases(cleaned.get("aliases", ""))]
        taken = {}
        for other in GlossaryTerm.objects.exclude(slug=self.term_slug or cleaned.get("slug", "")):
            for phrase in (other.term, *other.aliases):
                taken[phrase.lower()] = other.term
        for phrase in phrases:
            if phrase and phrase.lower() in taken:
                self.add_error(None, f"“{phrase}” is already used by the term “{taken[phrase.lower()]}”.")
        lowered = [p.lower() for p in phrases if p]
        if len(set(lowered)) != len(lowered):
            self.add_error("aliases", "Each alias must differ from the term and from the other aliases.")
        return cleaned

    @staticmethod
    def _aliases(text: str) -> list[str]:
        return [alias.strip() for alias in text.split(",") if alias.strip()]

    def item_data(self) -> Data:
        values = self.cleaned_data
        return {
            "slug": self.term_slug or values["slug"],
            "term": values["term"],
            "aliases": self._aliases(values["aliases"]),
            "definition": values["definition"],
            "match_case": values["match_case"],
        }

    @staticmethod
    def initial_from(data: Data) -> dict:
        return {**data, "aliases": ", ".join(data["aliases"])}


class FaqForm(_Saving):
    question = forms.CharField(max_length=300)
    answer = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), strip=False, help_text="Markdown.")
    field_order = ["question", "answer"]

    def clean_answer(self) -> str:
        if not self.cleaned_data["answer"].strip():
            raise forms.ValidationError("This field is required.")
        return self.cleaned_data["answer"]

    def item_data(self, order: int, before: Data | None = None) -> Data:
        values = self.cleaned_data
        return {
            "order": order,
            "question": values["question"],
            "answer": markdown_kept(values["answer"], (before or {}).get("answer", "")),
        }

    @staticmethod
    def initial_from(data: Data) -> dict:
        return dict(data)


def next_faq_order() -> int:
    last = FaqEntry.objects.order_by("-order").values_list("order", flat=True).first()
    return (last or 0) + 1
