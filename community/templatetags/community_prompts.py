"""The lesson page's discussion prompts: `{% lesson_prompt_states lesson as states %}`, each prompt as the user sees
it (their answer and form; the model and peers' answers only once they may read them)."""

from django import template

from community import prompts
from community.prompt_forms import with_form
from lessons.models import Lesson

register = template.Library()


@register.simple_tag(takes_context=True)
def lesson_prompt_states(context: template.Context, lesson: Lesson) -> list[prompts.PromptState]:
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return []
    return [with_form(state) for state in prompts.lesson_prompt_states(lesson=lesson, user=user)]
