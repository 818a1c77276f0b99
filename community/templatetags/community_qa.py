"""The stage and lesson pages' community counts: `{% stage_questions node as found %}` (the count and the newest
few) and `{% lesson_question_count lesson as count %}`, each one query, through visibility."""

import datetime as dt

from django import template
from django.utils import timezone

from community import selectors
from community.selectors import StageQuestions
from lessons.models import Lesson, Node

register = template.Library()


@register.simple_tag(takes_context=True)
def stage_questions(context: template.Context, node: Node) -> StageQuestions:
    return selectors.node_questions(node=node, user=context["user"])


@register.simple_tag(takes_context=True)
def lesson_question_count(context: template.Context, lesson: Lesson) -> int:
    return selectors.lesson_question_count(lesson=lesson, user=context["user"])


@register.filter
def qa_when(moment: dt.datetime | None) -> str:
    """A post's time as "3 Dec 2026, 08:02" in the site's time zone: the `date` filter's output, at a fraction of
    its cost on a page of a few hundred posts."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return f"{local.day} {local:%b %Y, %H:%M}"


@register.filter
def qa_iso(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).isoformat() if moment else ""
