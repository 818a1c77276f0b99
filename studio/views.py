"""The studio's own pages: its home, every item's history with diffs and restore, conflicts with the content files,
and the export of what changed. The editors of each kind are in `lesson_views`, `question_views` and `node_views`."""

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lessons.models import FaqEntry, GlossaryTerm, Lesson, Node, Question
from mlopslab.refusals import Refused
from studio import export, items, revisions
from studio.access import author_required
from studio.models import ContentConflict, FileBase, ItemKind, Revision


def _question_pk(key: str) -> list[int]:
    return [Question.objects.values_list("pk", flat=True).get(qid=key)]


EDIT_URLS = {
    ItemKind.LESSON: ("studio:lesson_edit", lambda key: key.split("/", 1)),
    ItemKind.QUESTION: ("studio:question_edit", _question_pk),
    ItemKind.NODE: ("studio:node_edit", lambda key: [key]),
    ItemKind.TERM: ("studio:term_edit", lambda key: [key]),
    ItemKind.FAQ: ("studio:faq_edit", lambda key: [int(key)]),
}


def edit_url(kind: str, key: str) -> str | None:
    """The editor of an item, or None when it no longer exists."""
    name, args = EDIT_URLS[kind]
    try:
        return reverse(name, args=args(key))
    except (NoReverseMatch, Question.DoesNotExist, ValueError):
        return None


def _kind(kind: str) -> str:
    if kind not in ItemKind.values:
        raise Http404("No such kind of content.")
    return kind


@author_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    lessons = Lesson.objects.aggregate(
        published=Count("pk", filter=Q(status=Lesson.Status.PUBLISHED)), draft=Count("pk", filter=Q(status="draft"))
    )
    counts = {
        "lessons": lessons,
        "questions": Question.objects.count(),
        "nodes": Node.objects.count(),
        "terms": GlossaryTerm.objects.count(),
        "faq": FaqEntry.objects.count(),
    }
    recent = list(Revision.objects.select_related("author").order_by("-created_at", "-pk")[:12])
    for revision in recent:
        revision.title = _title(revision.kind, revision.key, revision.data)
    context = {
        "counts": counts,
        "recent": recent,
        "open_conflicts": ContentConflict.objects.filter(resolved_at__isnull=True).count(),
        "section": "studio",
    }
    return render(request, "studio/home.html", context)


def _title(kind: str, key: str, data: dict) -> str:
    return str(data.get("title") or data.get("term") or data.get("question") or data.get("prompt") or key)[:90]


# --- history ----------------------------------------------------------------------------------


def _history(kind: str, key: str) -> list[Revision]:
    found = list(Revision.objects.filter(kind=kind, key=key).select_related("author").order_by("-number"))
    if not found:
        row = items.TYPES[kind].lookup(key)
        if row is None:
            raise Http404("No such item.")
    return found


@author_required
@require_GET
def history(request: HttpRequest, kind: str, key: str) -> HttpResponse:
    kind = _kind(kind)
    found = _history(kind, key)
    row = items.TYPES[kind].lookup(key)
    title = _title(kind, key, items.TYPES[kind].from_row(row) if row else found[0].data)
    newest = found[0].number if found else 0
    left, right = _pair(request, found)
    context = {
        "kind": kind,
        "kind_label": ItemKind(kind).label,
        "key": key,
        "title": title,
        "revisions": found,
        "newest": newest,
        "left": left,
        "right": right,
        "rows": revisions.diff_rows(left.text, right.text) if left and right else [],
        "left_label": _label(left),
        "right_label": _label(right),
        "edit_url": edit_url(kind, key) if row else None,
        "section": "studio",
    }
    template = "studio/history.html#diff" if request.htmx and request.GET.get("a") else "studio/history.html"
    return render(request, template, context)


def _label(revision: Revision | None) -> str:
    if revision is None:
        return ""
    who = revision.author.username if revision.author else revision.get_origin_display().lower()
    return f"Revision {revision.number} ({who})"


def _pair(request: HttpRequest, found: list[Revision]) -> tuple[Revision | None, Revision | None]:
    """The two revisions to compare: those asked for, or by default the one before the newest and the newest."""
    by_number = {revision.number: revision for revision in found}
    if not found:
        return None, None

    def pick(name: str, default: Revision) -> Revision:
        raw = request.GET.get(name, "")
        if not raw:
            return default
        if not raw.isdigit() or int(raw) not in by_number:
            raise Refused(f"There is no revision {raw[:20]!r} of this item.", status=404)
        return by_number[int(raw)]

    return pick("a", found[1] if len(found) > 1 else found[0]), pick("b", found[0])


@author_required
@require_POST
def restore(request: HttpRequest, kind: str, key: str, number: int) -> HttpResponse:
    kind = _kind(kind)
    base = request.POST.get("base_number", "")
    if not base.isdigit():
        raise Refused("The restore form is missing the revision it began from; reload the page.", status=400)
    try:
        revision = revisions.item_restore(kind=kind, key=key, number=number, author=request.user, base_number=int(base))
    except revisions.StaleEdit as stale:
        messages.error(request, stale.message)
        return redirect("studio:history", kind=kind, key=key)
    except revisions.Invalid as invalid:
        messages.error(request, f"Revision {number} cannot be restored as the course is now. {invalid.message}")
        return redirect("studio:history", kind=kind, key=key)
    messages.success(request, f"Restored revision {number} as revision {revision.number}.")
    return redirect("studio:history", kind=kind, key=key)


# --- conflicts with the content files ---------------------------------------------------------


@author_required
@require_GET
def conflicts(request: HttpRequest) -> HttpResponse:
    open_conflicts = list(ContentConflict.objects.filter(resolved_at__isnull=True).order_by("kind", "key"))
    for conflict in open_conflicts:
        studio_side = revisions.latest_revision(kind=conflict.kind, key=conflict.key)
        conflict.studio_revision = studio_side
        conflict.rows = revisions.diff_rows(studio_side.text if studio_side else "", conflict.file_text)
        conflict.title = _title(conflict.kind, conflict.key, conflict.file_data)
        conflict.edit_url = edit_url(conflict.kind, conflict.key)
    resolved = ContentConflict.objects.filter(resolved_at__isnull=False).select_related("resolved_by")[:10]
    context = {"conflicts": open_conflicts, "resolved": resolved, "section": "studio"}
    return render(request, "studio/conflicts.html", context)


@author_required
@require_POST
def conflict_resolve(request: HttpRequest, conflict_id: int) -> HttpResponse:
    choice = request.POST.get("keep", "")
    if choice not in ContentConflict.Resolution.values:
        raise Refused("Choose which version to keep: the studio's or the file's.", status=400)
    with transaction.atomic():
        conflict = get_object_or_404(
            ContentConflict.objects.select_for_update(), pk=conflict_id, resolved_at__isnull=True
        )
        if choice == ContentConflict.Resolution.FILE:
            newest = revisions.latest_revision(kind=conflict.kind, key=conflict.key)
            message = f"Took {conflict.path} over the studio's revision"
            try:
                revisions.item_save(
                    kind=conflict.kind, data=conflict.file_data, author=request.user, message=message,
                    base_number=newest.number if newest else 0, origin=Revision.Origin.FILE,
                )  # fmt: skip
            except revisions.Invalid as invalid:
                messages.error(request, f"The file's version cannot be taken as the course is now. {invalid.message}")
                return redirect("studio:conflicts")
        # Either way the file as it is now is what the site has seen: the next sync leaves the item alone.
        FileBase.objects.update_or_create(
            kind=conflict.kind, key=conflict.key, defaults={"file_hash": conflict.file_hash}
        )
        conflict.resolution, conflict.resolved_at, conflict.resolved_by = choice, timezone.now(), request.user
        conflict.save(update_fields=["resolution", "resolved_at", "resolved_by"])
    if choice == ContentConflict.Resolution.FILE:
        messages.success(request, f"Took the file's version of {conflict.key}.")
    else:
        messages.success(
            request, f"Kept the studio's version of {conflict.key}. Export it so that the file says the same."
        )
    return redirect("studio:conflicts")


# --- export -----------------------------------------------------------------------------------


@author_required
@require_http_methods(["GET", "POST"])
def export_page(request: HttpRequest) -> HttpResponse:
    root = export.content_root()
    files = export.export_files(root)
    if request.method == "POST":
        if not files:
            messages.info(request, "Nothing to export: the content files already say what the studio says.")
            return redirect("studio:export")
        if request.POST.get("action") == "write":
            written = export.export_write(files, root)
            messages.success(request, f"Wrote {len(written)} file(s) into {root}: " + ", ".join(written) + ".")
            return redirect("studio:export")
        if request.POST.get("action") != "download":
            raise Refused("Choose to download the files or to write them into the content folder.", status=400)
        response = HttpResponse(export.export_zip(files), content_type="application/zip")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="mlopslab-content-{stamp}.zip"'
        return response
    for found in files:
        on_disk = root / found.path
        found.rows = revisions.diff_rows(on_disk.read_text(encoding="utf-8") if on_disk.exists() else "", found.text)
        for item in found.items:
            item.title = _title(item.kind, item.key, item.data)
    context = {"files": files, "can_write": export.export_writes(), "root": root, "section": "studio"}
    return render(request, "studio/export.html", context)
