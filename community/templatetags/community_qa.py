"""The stage and lesson pages' community counts: `{% stage_questions node as found %}` (the count and the newest
few) and `{% lesson_question_count lesson as count %}`, each one query, through visibility."""

from django import template

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
