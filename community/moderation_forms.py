from django import forms

from community.models import BODY_MAX, TITLE_MAX, Report
from community.moderation import HIDE_REASON_MAX


class ReportForm(forms.Form):
    reason = forms.ChoiceField(label="Why should a moderator look at it?", choices=Report.Reason.choices)
    detail = forms.CharField(
        label="Anything to add (optional)",
        required=False,
        max_length=500,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only moderators read this.",
    )


class HideForm(forms.Form):
    reason = forms.CharField(
        label="Reason, told to the author",
        max_length=HIDE_REASON_MAX,
        strip=True,
        help_text="For example: “It gives away the answer to a quiz question.”",
    )


class PostEditForm(forms.Form):
    """A post's new text; the rules (empty, too long, only links) are the posting service's, checked on save."""

    title = forms.CharField(label="Title", required=False, max_length=TITLE_MAX * 2, strip=False)
    body = forms.CharField(
        label="Text (Markdown)", max_length=BODY_MAX * 2, strip=False, widget=forms.Textarea(attrs={"rows": 14})
    )

    def __init__(self, *args: object, with_title: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if not with_title:
            del self.fields["title"]


class PresenceSettingsForm(forms.Form):
    hidden = forms.BooleanField(
        label="Stay hidden from “who is here”",
        required=False,
        help_text="You are still counted among those active now, but your name is never shown on a stage page.",
    )
