"""The studio's lesson pages: the list, the editor with its live preview, publishing, and the lesson as a learner
sees it. Every view is for authors only (`author_required`); saves go through `studio.revisions.item_save`."""

from django.contrib import messages
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lessons.course import course_snapshot
from lessons.models import Lesson, Node
from lessons.rendering import WORDS_PER_MINUTE, mark_locked_links
from lessons.selectors import LessonEntry, link_lock_note
from mlopslab.refusals import Refused
from studio import items
from studio.access import author_required
from studio.item_data import Data, lesson_front_matter
from studio.lesson_forms import LessonCreateForm, LessonEditForm, LessonPreviewForm, StatusForm
from studio.lesson_preview import Preview, lesson_preview
from studio.models import ItemKind, Revision
from studio.revisions import Invalid, StaleEdit, item_save, latest_revision

KIND = ItemKind.LESSON
EDITOR = "studio/lessons/editor.html"
FRONT_MATTER_FIELDS = ("slug", "title", "order", "status")


def _key(node_slug: str, lesson_slug: str) -> str:
    return f"{node_slug}/{lesson_slug}"


def _history_url(key: str) -> str | None:
    """The lesson's history page, once the studio has one."""
    try:
        return reverse("studio:history", kwargs={"kind": KIND, "key": key})
    except NoReverseMatch:
        return None


def _lesson(node_slug: str, lesson_slug: str) -> Lesson:
    return get_object_or_404(Lesson.objects.select_related("node"), node__slug=node_slug, slug=lesson_slug)


def _number(revision: Revision | None) -> int:
    return revision.number if revision else 0


def _field_lines(data: Data) -> dict[int, str]:
    """Each line of the file's front matter, to the field it writes (a long title can take two lines)."""
    fields, current = {}, ""
    for number, row in enumerate(lesson_front_matter(data).splitlines(), start=2):
        name = row.split(":", 1)[0]
        current = name if name in FRONT_MATTER_FIELDS else current
        fields[number] = current
    return fields


def _problems(data: Data, problems: list, preview: Preview) -> tuple[list[dict], dict[str, list[str]]]:
    """The problems as the page lists them, each with the line it names and whether that line is in the body
    (then the editor's gutter marks it), and the front matter's by the field they belong to."""
    fields = _field_lines(data)
    listed, by_field = [], {}
    for problem in problems:
        field = "" if problem.line > preview.offset else fields.get(problem.line, "")
        listed.append(
            {"line": problem.line, "message": problem.message, "field": field, "in_body": problem.line > preview.offset}
        )
        if field:
            by_field.setdefault(field, []).append(f"line {problem.line}: {problem.message}")
    return listed, by_field


def _editor(
    request: HttpRequest,
    *,
    form: LessonEditForm | LessonCreateForm,
    data: Data,
    lesson: Lesson | None,
    status: int = 200,
    problems: list | None = None,
    stale: StaleEdit | None = None,
) -> HttpResponse:
    preview = lesson_preview(data)
    shown = preview.problems if problems is None else problems
    if lesson is None and not form.is_bound:
        shown = []  # a blank new lesson is not wrong yet; the preview names problems once typing starts
    listed, by_field = _problems(data, shown, preview)
    lines = len(data["body"].split("\n"))  # as the textarea shows them: after a final line break, an empty one
    key = _key(data["node"], data["slug"]) if lesson else ""
    context = {
        "form": form,
        "lesson": lesson,
        "data": data,
        "preview": preview,
        "problems": listed,
        "field_problems": by_field,
        "problem_lines": {p["line"] for p in listed if p["in_body"]},
        "gutter": range(preview.offset + 1, preview.offset + lines + 1),
        "rows": max(lines + 2, 14),
        "refused": problems is not None,
        "stale": stale,
        "history_url": _history_url(key) if lesson else None,
        "newest": latest_revision(kind=KIND, key=key) if lesson else None,
        "words_per_minute": WORDS_PER_MINUTE,
    }
    if stale is not None:
        who = stale.newer.author.username if stale.newer.author else "the content files"
        context["left_title"] = f"Revision {stale.newer.number} by {who}"
        context["right_title"] = "Your edit"
    return render(request, EDITOR, context, status=status)


def _default_message(before: Data, after: Data) -> str:
    changed = [name for name in ("title", "order", "body") if before.get(name) != after.get(name)]
    return "Changed the " + " and ".join(changed) if changed else "Saved unchanged"


# --- pages ------------------------------------------------------------------------------------


@author_required
@require_GET
def lesson_list(request: HttpRequest) -> HttpResponse:
    """Every lesson, by stage, with its status and newest revision."""
    newest = Revision.objects.filter(kind=KIND, key=OuterRef("key")).order_by("-number").values("number")[:1]
    revisions = {
        revision.key: revision
        for revision in Revision.objects.filter(kind=KIND, number=Subquery(newest))
        .select_related("author")
        .only("key", "number", "created_at", "origin", "author__username")
    }
    lessons = Lesson.objects.defer("source", "html", "toc").order_by("order", "slug")
    by_node: dict[int, list[Lesson]] = {}
    for lesson in lessons:
        by_node.setdefault(lesson.node_id, []).append(lesson)
    stages = []
    for node in Node.objects.order_by("order"):
        rows = []
        for lesson in by_node.get(node.pk, []):
            lesson.node = node
            key = _key(node.slug, lesson.slug)
            rows.append({"lesson": lesson, "revision": revisions.get(key), "history_url": _history_url(key)})
        stages.append({"node": node, "lessons": rows})
    return render(request, "studio/lessons/list.html", {"stages": stages})


@author_required
@require_http_methods(["GET", "POST"])
def lesson_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        node = Node.objects.filter(slug=request.GET.get("node", "")).first() or Node.objects.order_by("order").first()
        last = Lesson.objects.filter(node=node).order_by("-order").values_list("order", flat=True).first()
        form = LessonCreateForm(initial={"node": node.slug if node else None, "order": (last or 0) + 1})
        data = {"node": node.slug if node else "", "slug": "", "title": "", "order": (last or 0) + 1, "body": "\n"}
        return _editor(request, form=form, data={**data, "status": Lesson.Status.DRAFT.value}, lesson=None)
    form = LessonCreateForm(request.POST)
    if not form.is_valid():
        return _editor(request, form=form, data=_posted_data(request), lesson=None, status=422, problems=[])
    data = form.lesson_data()
    if "preview" in request.POST:
        return _editor(request, form=form, data=data, lesson=None)
    try:
        revision = item_save(
            kind=KIND, data=data, author=request.user, message=form.cleaned_data["message"] or "Created",
            base_number=None,
        )  # fmt: skip
    except Invalid as invalid:
        return _editor(request, form=form, data=data, lesson=None, status=422, problems=invalid.problems)
    except Refused as refused:
        form.add_error("slug", refused.message)
        return _editor(request, form=form, data=data, lesson=None, status=refused.status, problems=[])
    messages.success(request, f"Created “{data['title']}” as a draft (revision {revision.number}).")
    return redirect("studio:lesson_edit", node_slug=data["node"], lesson_slug=data["slug"])


def _posted_data(request: HttpRequest, lesson: Lesson | None = None) -> Data:
    """The lesson as posted, however little of it reads, for showing the form and preview again."""
    form = LessonPreviewForm(request.POST)
    form.is_valid()
    clean = form.cleaned_data
    if lesson is not None:
        base = items.TYPES[KIND].from_row(lesson)
    else:
        base = {"node": clean.get("node") or "", "slug": clean.get("slug") or "", "status": Lesson.Status.DRAFT.value}
    order = clean.get("order")
    return {
        **base,
        "title": clean.get("title") or "",
        "order": order if order is not None else base.get("order", 0),
        "body": clean.get("body") or "\n",
    }


@author_required
@require_http_methods(["GET", "POST"])
def lesson_edit(request: HttpRequest, node_slug: str, lesson_slug: str) -> HttpResponse:
    lesson = _lesson(node_slug, lesson_slug)
    current = items.TYPES[KIND].from_row(lesson)
    if request.method == "GET":
        base = _number(latest_revision(kind=KIND, key=_key(node_slug, lesson_slug)))
        form = LessonEditForm(initial={**current, "base_number": base})
        return _editor(request, form=form, data=current, lesson=lesson)
    form = LessonEditForm(request.POST)
    if not form.is_valid():
        return _editor(request, form=form, data=_posted_data(request, lesson), lesson=lesson, status=422, problems=[])
    # Node, slug and status are the lesson's own: an edit changes its title, order and body.
    data = {**current, **form.lesson_fields()}
    if "preview" in request.POST:
        return _editor(request, form=form, data=data, lesson=lesson)
    message = form.cleaned_data["message"] or _default_message(current, data)
    try:
        revision = item_save(
            kind=KIND, data=data, author=request.user, message=message, base_number=form.cleaned_data["base_number"]
        )
    except Invalid as invalid:
        return _editor(request, form=form, data=data, lesson=lesson, status=422, problems=invalid.problems)
    except StaleEdit as stale:
        # The edit stays in the form, now based on the newer revision: saving again, after taking what is needed
        # from the diff, replaces theirs knowingly.
        posted = request.POST.copy()
        posted["base_number"] = str(stale.newer.number)
        form = LessonEditForm(posted)
        form.is_valid()
        return _editor(request, form=form, data=data, lesson=lesson, status=409, problems=[], stale=stale)
    messages.success(request, f"Saved “{data['title']}” as revision {revision.number}.")
    return redirect("studio:lesson_edit", node_slug=node_slug, lesson_slug=lesson_slug)


@author_required
@require_POST
def lesson_preview_fragment(request: HttpRequest) -> HttpResponse:
    """The live preview: the lesson as posted, rendered and checked, with nothing written."""
    form = LessonPreviewForm(request.POST)
    form.is_valid()
    clean = form.cleaned_data
    node, slug = clean.get("node") or "", clean.get("slug") or ""
    lesson = Lesson.objects.filter(node__slug=node, slug=slug).only("status").first() if node and slug else None
    order = clean.get("order")
    data = {
        "node": node,
        "slug": slug,
        "title": clean.get("title") or "",
        "order": order if order is not None else 0,
        "status": lesson.status if lesson else Lesson.Status.DRAFT.value,
        "body": clean.get("body") or "\n",
    }
    preview = lesson_preview(data)
    listed, _ = _problems(data, preview.problems, preview)
    if order is None:
        listed.insert(0, {"line": None, "message": "Order must be a whole number from 0.", "field": "order"})
    context = {"preview": preview, "problems": listed, "words_per_minute": WORDS_PER_MINUTE, "live": True}
    return render(request, f"{EDITOR}#preview", context)


# --- draft and published ----------------------------------------------------------------------


def _status_change(request: HttpRequest, node_slug: str, lesson_slug: str, status: str) -> HttpResponse:
    lesson = _lesson(node_slug, lesson_slug)
    form = StatusForm(request.POST)
    if not form.is_valid():
        raise Refused("Not changed: the page did not say which revision it showed. Reload it and try again.")
    data = {**items.TYPES[KIND].from_row(lesson), "status": status}
    verb = "Published" if status == Lesson.Status.PUBLISHED.value else "Unpublished"
    try:
        revision = item_save(
            kind=KIND, data=data, author=request.user, message=verb, base_number=form.cleaned_data["base_number"]
        )
    except StaleEdit as stale:
        who = stale.newer.author.username if stale.newer.author else "the content files"
        raise Refused(
            f"Not {verb.lower()}: {who} saved revision {stale.newer.number} of this lesson since your page showed "
            "it. Look at it, then try again.",
            status=409,
        ) from None
    if status == Lesson.Status.PUBLISHED.value:
        messages.success(request, f"Published “{lesson.title}” (revision {revision.number}): learners can read it.")
    else:
        messages.success(request, f"Unpublished “{lesson.title}” (revision {revision.number}): it is a draft again.")
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("studio:lesson_edit", node_slug=node_slug, lesson_slug=lesson_slug)


@author_required
@require_POST
def lesson_publish(request: HttpRequest, node_slug: str, lesson_slug: str) -> HttpResponse:
    return _status_change(request, node_slug, lesson_slug, Lesson.Status.PUBLISHED.value)


@author_required
@require_POST
def lesson_unpublish(request: HttpRequest, node_slug: str, lesson_slug: str) -> HttpResponse:
    return _status_change(request, node_slug, lesson_slug, Lesson.Status.DRAFT.value)


# --- as a learner sees it ---------------------------------------------------------------------


def _learner_lock_notes(node: Node) -> dict[str, str]:
    """What a learner reading this stage sees of links into other stages: they have completed everything this stage
    requires, through its prerequisites' prerequisites, and nothing else, so a link into any other stage whose
    prerequisites that does not cover is marked locked."""
    course = course_snapshot()
    done: set[int] = set()
    waiting = list(course.by_pk[node.pk].prerequisite_list) if node.pk in course.by_pk else []
    while waiting:
        stage = waiting.pop()
        if stage.pk not in done:
            done.add(stage.pk)
            waiting += stage.prerequisite_list
    notes = {}
    for stage in course.nodes:
        missing = [p for p in stage.prerequisite_list if p.pk not in done]
        if missing:
            notes[stage.slug] = link_lock_note(missing)
    return notes


@author_required
@require_GET
def lesson_learner_view(request: HttpRequest, node_slug: str, lesson_slug: str) -> HttpResponse:
    """The lesson page as a learner at this stage sees it, drafts included, recording nothing for the instructor:
    no read, no progress, its stage's list as learners see it (the published lessons), none of them read."""
    lesson = _lesson(node_slug, lesson_slug)
    course = course_snapshot()
    listed = [item for item in course.lessons.get(lesson.node_id, []) if item.pk != lesson.pk]
    shown = sorted([*listed, lesson], key=lambda item: (item.order, item.slug))
    entries = [LessonEntry(item, False) for item in shown]
    index = next(i for i, item in enumerate(shown) if item.pk == lesson.pk)
    used = set(lesson.glossary_terms)
    terms = [term for term in course.glossary if term.slug in used]
    key = _key(node_slug, lesson_slug)
    context = {
        "lesson": lesson,
        "lesson_html": mark_locked_links(lesson.html, _learner_lock_notes(lesson.node)),
        "node": lesson.node,
        "lessons": entries,
        "read_count": 0,
        "is_read": False,
        "previous": shown[index - 1] if index > 0 else None,
        "next": shown[index + 1] if index + 1 < len(shown) else None,
        "glossary": {t.slug: {"term": t.term, "definition": t.definition} for t in terms},
        "is_draft": lesson.status == Lesson.Status.DRAFT.value,
        "newest": latest_revision(kind=KIND, key=key),
        "history_url": _history_url(key),
    }
    return render(request, "studio/lessons/as_learner.html", context)
