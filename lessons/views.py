from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cohorts import learner_cohorts
from lessons import selectors, services
from lessons.course import course_snapshot, fragment
from lessons.forms import FreeRoamForm
from lessons.models import FaqEntry, Lesson, Node
from mlopslab.refusals import refusal_response, wants_json

View = Callable[..., HttpResponse]


def locked_response(request: HttpRequest, locked: selectors.NodeLocked) -> HttpResponse:
    """The one answer for a locked stage: the locked page for a person, the refusal for htmx and machines."""
    if request.htmx or wants_json(request):
        return refusal_response(request, locked)
    # After free roam is switched on, the learner lands where they were going, or on the stage for a POST.
    after = request.get_full_path() if request.method == "GET" else locked.node.get_absolute_url()
    context = {"node": locked.node, "reason": locked.message, "missing": locked.missing, "next": after}
    return render(request, "lessons/locked.html", context, status=locked.status)


def answers_locked(view: View) -> View:
    """Let the view raise NodeLocked wherever it finds the stage locked, and answer it with `locked_response`."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except selectors.NodeLocked as locked:
            return locked_response(request, locked)

    return wrapper


def open_node(request: HttpRequest, node_slug: str) -> Node:
    """The node, or NodeLocked while it is locked for this learner."""
    node = get_object_or_404(Node, slug=node_slug)
    selectors.node_require_open(user=request.user, node=node)
    return node


def _readable_lesson(request: HttpRequest, node_slug: str, lesson_slug: str) -> Lesson:
    lesson = get_object_or_404(selectors.published_lessons(request.user), node__slug=node_slug, slug=lesson_slug)
    selectors.node_require_open(user=request.user, node=lesson.node)
    return lesson


def drawn_edges(states: list) -> list[tuple]:
    """The map's lines: each stage's prerequisites less those another of its prerequisites already requires.

    LLMOps needs testing and deployment, and deployment needs testing already: a second line from testing would
    cross the stages between them and read as if they were required too. Stage pages list every prerequisite.
    """
    by_slug = {s.node.slug: s for s in states}
    ancestors: dict[str, set[str]] = {}

    def above(slug: str, seen: frozenset = frozenset()) -> set[str]:
        if slug not in ancestors:
            found: set[str] = set()
            for parent in by_slug[slug].prerequisite_slugs:
                if parent in by_slug and parent not in seen:  # a cycle is reported by map_problem, not followed
                    found |= {parent} | above(parent, seen | {slug})
            ancestors[slug] = found
        return ancestors[slug]

    edges = []
    for state in states:
        parents = [slug for slug in state.prerequisite_slugs if slug in by_slug]
        for slug in parents:
            if not any(slug in above(other) for other in parents if other != slug):
                edges.append((by_slug[slug], state))
    return edges


@login_required
@require_GET
def lifecycle_map(request: HttpRequest) -> HttpResponse:
    states = selectors.lifecycle_map(user=request.user)
    # What the map shows depends on the course and on each stage's state and lessons read, nothing else:
    # learners at the same standing share one rendering (most new learners, and every revisit).
    standing = tuple((s.node.pk, s.state, s.lessons_read) for s in states)

    def render_body() -> str:
        context = {
            "states": states,
            "edges": drawn_edges(states),
            "rows": max((s.depth for s in states), default=0) + 1,
            "lanes": max((s.lane for s in states), default=0) + 1,
            "progress": selectors.course_progress(states),
            "map_problem": selectors.map_problem(),
        }
        return render_to_string("lessons/partials/map_body.html", context)

    body = fragment(course_snapshot(), ("map", standing), render_body)
    cohorts = learner_cohorts.learner_cohort_plans(user=request.user)
    return render(request, "lessons/map.html", {"map_body": mark_safe(body), "cohorts": cohorts})


@login_required
@require_GET
def course_complete(request: HttpRequest) -> HttpResponse:
    """What the learner did across the course; before the end, what is left to do."""
    return render(request, "lessons/course_complete.html", {"record": selectors.course_record(user=request.user)})


@login_required
@require_GET
@answers_locked
def node_detail(request: HttpRequest, node_slug: str) -> HttpResponse:
    node = open_node(request, node_slug)
    lessons = selectors.node_lessons(user=request.user, node=node)
    context = {
        "node": node,
        "lessons": lessons,
        "read_count": sum(item.is_read for item in lessons),
        "standing": selectors.node_standing(user=request.user, node=node),
        "cohort_names": [cohort.name for cohort in learner_cohorts.learner_cohorts(user=request.user)],
        "deadlines": learner_cohorts.stage_deadlines(user=request.user, node_pk=node.pk),
    }
    return render(request, "lessons/node.html", context)


@login_required
@require_GET
@answers_locked
def lesson_detail(request: HttpRequest, node_slug: str, lesson_slug: str) -> HttpResponse:
    lesson = _readable_lesson(request, node_slug, lesson_slug)
    lessons = selectors.node_lessons(user=request.user, node=lesson.node)
    index = next(i for i, item in enumerate(lessons) if item.pk == lesson.pk)
    used = set(lesson.glossary_terms)
    terms = [term for term in course_snapshot().glossary if term.slug in used]
    context = {
        "lesson": lesson,
        "lesson_html": selectors.lesson_html(user=request.user, lesson=lesson),
        "node": lesson.node,
        "lessons": lessons,
        "read_count": sum(item.is_read for item in lessons),
        "is_read": lessons[index].is_read,
        "previous": lessons[index - 1] if index > 0 else None,
        "next": lessons[index + 1] if index + 1 < len(lessons) else None,
        "glossary": {t.slug: {"term": t.term, "definition": t.definition} for t in terms},
    }
    return render(request, "lessons/lesson.html", context)


@login_required
@require_POST
@answers_locked
def lesson_mark_read(request: HttpRequest, node_slug: str, lesson_slug: str) -> HttpResponse:
    lesson = _readable_lesson(request, node_slug, lesson_slug)
    services.lesson_mark_read(user=request.user, lesson=lesson)
    lessons = selectors.node_lessons(user=request.user, node=lesson.node)
    context = {
        "lesson": lesson,
        "lessons": lessons,
        "read_count": sum(item.is_read for item in lessons),
        "is_read": True,
        "oob": True,
    }
    if request.htmx:
        return render(request, "lessons/partials/mark_read.html", context)
    messages.success(request, f"Marked “{lesson.title}” as read.")
    return redirect(lesson)


@require_GET
def glossary(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]

    def render_terms() -> str:
        context = {"terms": selectors.glossary_search(query=query), "query": query}
        return render_to_string("lessons/glossary.html#term-list", context)

    # The whole list is the same for everyone until the glossary changes; a search is rendered as asked.
    terms = fragment(course_snapshot(), ("glossary",), render_terms) if not query.strip() else render_terms()
    if request.htmx:
        return HttpResponse(terms)
    return render(request, "lessons/glossary.html", {"term_list": mark_safe(terms), "query": query})


@require_GET
def faq(request: HttpRequest) -> HttpResponse:
    return render(request, "lessons/faq.html", {"entries": FaqEntry.objects.all()})


def _safe_next(request: HttpRequest) -> str | None:
    """A path on this site to go on to; anything else (another host, or "0", which `redirect` would take for a
    view name) is ignored."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target.startswith("/") and allowed else None


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = FreeRoamForm(request.POST)
        on = form.is_valid() and form.cleaned_data["free_roam"]
        services.profile_free_roam_set(user=request.user, on=on)
        state = "on: every stage is open to explore" if on else "off: stages open as you complete them"
        messages.success(request, f"Free roam is {state}.")
        return HttpResponseRedirect(_safe_next(request) or reverse("lessons:profile"))
    return render(request, "lessons/profile.html", {"learner": selectors.learner_profile(user=request.user)})
