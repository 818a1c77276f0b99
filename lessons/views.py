from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from lessons import attempts, selectors, services
from lessons.models import FaqEntry, GlossaryTerm, Lesson, Node


def locked_response(request: HttpRequest, node: Node, reason: str) -> HttpResponse:
    return render(request, "lessons/locked.html", {"node": node, "reason": reason}, status=403)


def open_node(request: HttpRequest, node_slug: str) -> tuple[Node, HttpResponse | None]:
    """The node, and the 403 to answer instead while it is locked for this learner."""
    node = get_object_or_404(Node, slug=node_slug)
    reason = selectors.node_lock_reason(user=request.user, node=node)
    return node, locked_response(request, node, reason) if reason else None


def _readable_lesson(request: HttpRequest, node_slug: str, lesson_slug: str) -> tuple[Lesson, str | None]:
    lesson = get_object_or_404(selectors.published_lessons(request.user), node__slug=node_slug, slug=lesson_slug)
    return lesson, selectors.node_lock_reason(user=request.user, node=lesson.node)


@login_required
@require_GET
def lifecycle_map(request: HttpRequest) -> HttpResponse:
    states = selectors.lifecycle_map(user=request.user)
    total = sum(s.lesson_count for s in states)
    read = sum(s.lessons_read for s in states)
    context = {
        "states": states,
        "rows": max((s.depth for s in states), default=0) + 1,
        "lanes": max((s.lane for s in states), default=0) + 1,
        "completed": sum(s.state == "completed" for s in states),
        "lessons_total": total,
        "lessons_read": read,
        "percent": round(100 * read / total) if total else 0,
    }
    return render(request, "lessons/map.html", context)


@login_required
@require_GET
def node_detail(request: HttpRequest, node_slug: str) -> HttpResponse:
    node, refused = open_node(request, node_slug)
    if refused:
        return refused
    attempts.progress_refresh(user=request.user, nodes=[node])
    lessons = selectors.node_lessons(user=request.user, node=node)
    context = {
        "node": node,
        "lessons": lessons,
        "read_count": sum(item.is_read for item in lessons),
        "standing": selectors.node_standing(user=request.user, node=node),
    }
    return render(request, "lessons/node.html", context)


@login_required
@require_GET
def lesson_detail(request: HttpRequest, node_slug: str, lesson_slug: str) -> HttpResponse:
    lesson, reason = _readable_lesson(request, node_slug, lesson_slug)
    if reason:
        return locked_response(request, lesson.node, reason)
    lessons = selectors.node_lessons(user=request.user, node=lesson.node)
    index = next(i for i, item in enumerate(lessons) if item.pk == lesson.pk)
    terms = GlossaryTerm.objects.filter(slug__in=lesson.glossary_terms)
    context = {
        "lesson": lesson,
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
def lesson_mark_read(request: HttpRequest, node_slug: str, lesson_slug: str) -> HttpResponse:
    lesson, reason = _readable_lesson(request, node_slug, lesson_slug)
    if reason:
        return locked_response(request, lesson.node, reason)
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
    terms = selectors.glossary_search(query=query)
    template = "lessons/glossary.html#term-list" if request.htmx else "lessons/glossary.html"
    return render(request, template, {"terms": terms, "query": query})


@require_GET
def faq(request: HttpRequest) -> HttpResponse:
    return render(request, "lessons/faq.html", {"entries": FaqEntry.objects.all()})
