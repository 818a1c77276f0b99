"""Discussion prompts: loaded from a lesson's `::: prompt <slug>` blocks whenever the lesson is saved, answered by a
learner before they may read their peers' answers, and read by instructors across their own cohorts.

A prompt taken out of its lesson is deleted while nobody answered it; one with answers is kept for them with
`order` 0 (RETIRED), which the lesson page leaves out and the instructors' listing still reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from cohorts.models import CohortMembership
from community.markdown import render_post
from community.models import BODY_MAX, DiscussionPrompt, PromptAnswer
from community.visibility import is_moderator
from lessons.models import Lesson
from lessons.rendering import discussion_prompts
from lessons.selectors import is_author, node_require_open, published_lessons
from mlopslab.refusals import Refused

RETIRED = 0
"""The `order` of a prompt no longer in its lesson, kept because somebody answered it."""
ANSWERS_PER_HOUR = 10
PEERS_SHOWN = 10
"""Peers' answers shown with a prompt on the lesson page; the prompt's own page shows them all, by pages."""
PEERS_PER_PAGE = 25


# --- extraction ------------------------------------------------------------------------------------------------


def prompts_extract(*, lesson: Lesson, created: bool = False) -> bool:
    """Make the lesson's DiscussionPrompt rows what its source says; return whether anything was written.

    Upserted by slug (order, text, text_html rendered by `render_post`); rows whose slug left the lesson are
    deleted unless answered, then kept as RETIRED. A lesson without prompts costs a text search (and, when it
    is not new, one query); an unchanged prompt set writes nothing and renders nothing."""
    blocks = discussion_prompts(lesson.source)
    if created and not blocks:
        return False
    existing = {prompt.slug: prompt for prompt in DiscussionPrompt.objects.filter(lesson=lesson)}
    wanted = {block.slug: (order, block.text) for order, block in enumerate(blocks, 1)}
    if not existing and not wanted:
        return False
    changed = False
    for slug, (order, text) in wanted.items():
        prompt = existing.pop(slug, None)
        if prompt is None:
            html = render_post(text)
            DiscussionPrompt.objects.create(lesson=lesson, slug=slug, order=order, text=text, text_html=html)
            changed = True
            continue
        if prompt.order == order and prompt.text == text:
            continue
        if prompt.text != text:
            prompt.text, prompt.text_html = text, render_post(text)
        prompt.order = order
        prompt.save(update_fields=["order", "text", "text_html"])
        changed = True
    gone = [prompt for prompt in existing.values() if prompt.order != RETIRED]
    if gone:
        answered = set(
            PromptAnswer.objects.filter(prompt__in=gone).values_list("prompt_id", flat=True).distinct().order_by()
        )
        DiscussionPrompt.objects.filter(pk__in=[p.pk for p in gone if p.pk not in answered]).delete()
        DiscussionPrompt.objects.filter(pk__in=answered).update(order=RETIRED)
        changed = True
    return changed


def lesson_saved(sender: type[Lesson], instance: Lesson, created: bool, raw: bool = False, **kwargs: object) -> None:
    """post_save of lessons.Lesson (connected in CommunityConfig.ready): content sync and the studio both land here."""
    if raw:  # loaddata: the fixture brings its own prompts
        return
    prompts_extract(lesson=instance, created=created)


# --- selectors -------------------------------------------------------------------------------------------------


def lesson_prompts(*, lesson: Lesson) -> QuerySet[DiscussionPrompt]:
    """The prompts the lesson carries now, in its order."""
    return DiscussionPrompt.objects.filter(lesson=lesson).exclude(order=RETIRED).order_by("order", "pk")


def _shown_answers(prompt: DiscussionPrompt) -> QuerySet[PromptAnswer]:
    return prompt.answers.filter(hidden_at__isnull=True).select_related("author")


@dataclass
class PromptState:
    """One prompt as `user` sees it. `peers` and `model` are empty unless `may_read`; `form` is set by the view."""

    prompt: DiscussionPrompt
    mine: PromptAnswer | None
    may_read: bool
    model: PromptAnswer | None
    peers: list[PromptAnswer]
    peer_count: int
    instructor: bool
    form: object = None

    @property
    def more(self) -> int:
        return max(0, self.peer_count - len(self.peers))


def prompt_state(
    *, prompt: DiscussionPrompt, user: User, limit: int | None = PEERS_SHOWN, offset: int = 0
) -> PromptState:
    """What `user` may see of the prompt. Peers' answers (newest first, hidden ones and the model answer left out)
    are only queried at all when they may be read."""
    mine = PromptAnswer.objects.filter(prompt=prompt, author=user).first() if user.is_authenticated else None
    instructor = is_author(user)
    may_read = mine is not None or instructor
    model, peers, count = None, [], 0
    if may_read:
        model = _shown_answers(prompt).filter(is_model=True).first()
        others = _shown_answers(prompt).exclude(author=user).exclude(is_model=True).order_by("-created_at", "-pk")
        count = others.count()
        peers = list(others[offset : offset + limit] if limit is not None else others[offset:])
    return PromptState(prompt, mine, may_read, model, peers, count, instructor)


def lesson_prompt_states(*, lesson: Lesson, user: User) -> list[PromptState]:
    """The lesson page's prompts, each as `user` sees it, with the newest PEERS_SHOWN peers' answers."""
    return [prompt_state(prompt=prompt, user=user) for prompt in lesson_prompts(lesson=lesson)]


def readable_prompt(*, user: User, prompt_id: int) -> DiscussionPrompt:
    """The prompt, if its lesson is one the user may read now (published or authored, stage open): else 404 or
    the stage's NodeLocked refusal."""
    prompt = DiscussionPrompt.objects.select_related("lesson__node").filter(pk=prompt_id).first()
    if prompt is None or not published_lessons(user).filter(pk=prompt.lesson_id).exists():
        raise Refused("There is no such discussion prompt.", status=404)
    node_require_open(user=user, node=prompt.lesson.node)
    return prompt


@dataclass
class CohortAnswer:
    answer: PromptAnswer
    cohorts: list[str]


def cohort_answers(*, prompt: DiscussionPrompt, instructor: User) -> list[CohortAnswer]:
    """Every answer to the prompt by a learner of the instructor's own cohorts (hidden ones too, marked), newest
    first, with the cohorts each learner is in; another instructor's cohorts are not looked at."""
    memberships = CohortMembership.objects.filter(cohort__instructor=instructor).select_related("cohort")
    cohorts_of: dict[int, list[str]] = {}
    for membership in memberships.order_by("cohort__name", "cohort_id"):
        cohorts_of.setdefault(membership.learner_id, []).append(membership.cohort.name)
    answers = (
        prompt.answers.filter(author_id__in=memberships.values("learner_id"))
        .select_related("author")
        .order_by("-created_at", "-pk")
    )
    return [CohortAnswer(answer, cohorts_of.get(answer.author_id, [])) for answer in answers]


# --- services --------------------------------------------------------------------------------------------------


def _wait_text(until: datetime, now: datetime) -> str:
    minutes = max(1, round((until - now).total_seconds() / 60))
    local = timezone.localtime(until)
    return f"at {local:%H:%M} (in {minutes} minute{'s' if minutes != 1 else ''})"


def _refuse_if_too_many(author: User, now: datetime) -> None:
    since = now - timedelta(hours=1)
    recent = PromptAnswer.objects.filter(author=author).filter(Q(created_at__gte=since) | Q(edited_at__gte=since))
    times = sorted(
        stamp
        for created, edited in recent.values_list("created_at", "edited_at")
        for stamp in (created, edited)
        if stamp is not None and stamp >= since
    )
    if len(times) >= ANSWERS_PER_HOUR:
        until = times[len(times) - ANSWERS_PER_HOUR] + timedelta(hours=1)
        raise Refused(
            f"You have written or edited {ANSWERS_PER_HOUR} answers to discussion prompts in the last hour, the most "
            f"one learner may. You can write again {_wait_text(until, now)}.",
            status=429,
        )


def clean_body(body: str) -> str:
    """The answer as it is kept, or Refused (422) when it is empty or too long: nothing is written either way."""
    body = body.replace("\x00", "").strip()
    if not body:
        raise Refused("Write your answer before sharing it: it is empty.", status=422)
    if len(body) > BODY_MAX:
        raise Refused(
            f"Your answer is {len(body):,} characters long; an answer may have at most {BODY_MAX:,}.", status=422
        )
    return body


def prompt_answer_save(*, prompt: DiscussionPrompt, author: User, body: str, model: bool | None = None) -> PromptAnswer:
    """Write or edit the author's one answer to the prompt. `model` (instructors only) marks it as the prompt's model
    answer, unmarking any other, or unmarks it; None leaves the mark as it is. Refused, changing nothing, when the
    body is empty or too long (422), a learner marks a model answer (403), or past ANSWERS_PER_HOUR (429)."""
    body = clean_body(body)
    if model is not None and not is_author(author):
        raise Refused("Only instructors mark a model answer.", status=403)
    now = timezone.now()
    with transaction.atomic():
        # Serialises one author's saves, so two at once can neither pass the limit nor write two answers.
        User.objects.select_for_update().filter(pk=author.pk).first()
        answer = PromptAnswer.objects.filter(prompt=prompt, author=author).first()
        if answer is not None and answer.body == body and (model is None or model == answer.is_model):
            return answer
        _refuse_if_too_many(author, now)
        html = render_post(body)
        if answer is None:
            answer = PromptAnswer(prompt=prompt, author=author, body=body, body_html=html)
        elif answer.body != body:
            answer.body, answer.body_html, answer.edited_at = body, html, now
        if model is not None:
            if model:
                prompt.answers.filter(is_model=True).exclude(pk=answer.pk).update(is_model=False)
            answer.is_model = model
        answer.save()
    return answer


def prompt_model_set(*, prompt: DiscussionPrompt, instructor: User, model: bool) -> PromptAnswer:
    """Mark (or unmark) the instructor's own answer as the prompt's model answer, unmarking any other."""
    if not is_author(instructor):
        raise Refused("Only instructors mark a model answer.", status=403)
    with transaction.atomic():
        answer = PromptAnswer.objects.select_for_update().filter(prompt=prompt, author=instructor).first()
        if answer is None:
            raise Refused("Write your answer first: the model answer is one of your own.", status=409)
        if model:
            prompt.answers.filter(is_model=True).exclude(pk=answer.pk).update(is_model=False)
        if answer.is_model != model:
            answer.is_model = model
            answer.save(update_fields=["is_model"])
    return answer


def prompt_answer_moderate(*, answer_id: int, moderator: User, hide: bool) -> PromptAnswer:
    """A moderator hides a prompt answer (gone for everyone but its author and moderators) or shows it again."""
    if not is_moderator(moderator):
        raise Refused("Only instructors and staff moderate answers.", status=403)
    answer = PromptAnswer.objects.select_related("prompt__lesson").filter(pk=answer_id).first()
    if answer is None:
        raise Refused("That answer does not exist.", status=404)
    answer.hidden_at, answer.hidden_by = (timezone.now(), moderator) if hide else (None, None)
    answer.save(update_fields=["hidden_at", "hidden_by"])
    return answer
