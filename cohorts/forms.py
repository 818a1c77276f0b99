from datetime import date

from django import forms
from django.utils import timezone

from cohorts.models import STUCK_DAYS_DEFAULT, Cohort
from lessons.models import Node


class CohortForm(forms.Form):
    name = forms.CharField(max_length=120, strip=True)
    stuck_after_days = forms.IntegerField(
        label="Stuck after days without progress",
        min_value=1,
        max_value=365,
        initial=STUCK_DAYS_DEFAULT,
        help_text="A learner with no activity for this many days is listed as stuck.",
    )
    invite_expires_at = forms.DateTimeField(
        label="Invite expires",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for an invite that never expires.",
    )

    @classmethod
    def for_cohort(cls, cohort: Cohort) -> "CohortForm":
        expires = cohort.invite_expires_at
        return cls(
            initial={
                "name": cohort.name,
                "stuck_after_days": cohort.stuck_after_days,
                "invite_expires_at": timezone.localtime(expires) if expires else None,
            }
        )


class JoinForm(forms.Form):
    code = forms.CharField(
        label="Invite code",
        max_length=32,
        strip=True,
        help_text="The code your instructor gave you, such as K7MW-P2QX: letters and digits, any case.",
    )


class InviteActionForm(forms.Form):
    action = forms.ChoiceField(choices=[("regenerate", "New code"), ("expire", "Expire now")])


def _field_name(node: Node) -> str:
    return f"stage_{node.pk}"


class DeadlinesForm(forms.Form):
    """One optional due date per stage; an empty one clears the stage's deadline."""

    def __init__(self, *args: object, stages: list[Node], current: dict[int, date], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.stages = stages
        for node in stages:
            self.fields[_field_name(node)] = forms.DateField(
                label=f"{node.order}. {node.title}",
                required=False,
                initial=current.get(node.pk),
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            )

    def due(self) -> dict[int, date | None]:
        return {node.pk: self.cleaned_data.get(_field_name(node)) for node in self.stages}
