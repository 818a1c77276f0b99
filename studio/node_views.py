"""The studio's editors of stages, glossary terms and FAQ entries.

Each editor is a plain form that saves without JavaScript: a save goes through `studio.revisions.item_save`, so
it is checked as the content file would be (422 with the problems by line of the file text, nothing saved),
refused when someone saved the item after the edit began (409 with the diff against their revision), and kept
as a revision. The stage editor also checks the map as the author picks prerequisites (`node_check`, htmx),
reporting a cycle before anything is saved.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods, require_POST

from lessons.content_files import Problem
from lessons.models import FaqEntry, GlossaryTerm, Node
from mlopslab.refusals import Refused, refusal_to_form
from studio import items
from studio.access import author_required
from studio.item_data import Data, text_of
from studio.models import ItemKind
from studio.node_forms import FaqForm, NodeForm, TermForm, next_faq_order
from studio.revisions import Invalid, StaleEdit, item_save, latest_revision

FILE_NAMES = {ItemKind.NODE: "node.yaml", ItemKind.TERM: "glossary.yaml", ItemKind.FAQ: "faq.yaml"}


def history_url(kind: str, key: str) -> str | None:
    """The item's revisions, once the studio's history page exists (and while it does not, no link)."""
    try:
        return reverse("studio:history", kwargs={"kind": kind, "key": key})
    except NoReverseMatch:
        return None


@dataclass
class Outcome:
    """What a save (or a check) found, for the page to show in place."""

    problems: list[Problem]
    text: str = ""
    stale: StaleEdit | None = None

    @property
    def stale_title(self) -> str:
        if self.stale is None:
            return ""
        newer = self.stale.newer
        return f"Revision {newer.number} by {newer.author.username if newer.author else 'the content files'}"

    @property
    def lines(self) -> list[tuple[int, str, bool]]:
        """The file text by line, each with whether a problem names it."""
        marked = {problem.line for problem in self.problems}
        return [(number, line, number in marked) for number, line in enumerate(self.text.splitlines(), 1)]


def _base_number(kind: str, key: str) -> int:
    newest = latest_revision(kind=kind, key=key)
    return newest.number if newest else 0


def _save(
    request: HttpRequest,
    form: NodeForm | TermForm | FaqForm,
    *,
    kind: str,
    make: Callable[[], Data],
    before: Data | None = None,
) -> tuple[Data | None, Outcome, int]:
    """Save a posted form (`before` is the item as it stands, None to create one): the saved data and 200, or
    None, what refused it and the status to answer with."""
    creating = before is None
    outcome = Outcome(problems=[])
    if not form.is_valid():
        return None, outcome, 422
    data = make()
    outcome.text = text_of(kind, data)
    if data == before:
        messages.info(request, "Nothing changed, so nothing was saved.")
        return data, outcome, 200
    base = None if creating else (form.cleaned_data["base_number"] or 0)
    try:
        revision = item_save(
            kind=kind, data=data, author=request.user, message=form.cleaned_data["message"], base_number=base
        )
    except Invalid as refusal:
        outcome.problems = refusal.problems
        return None, outcome, refusal.status
    except StaleEdit as refusal:
        outcome.stale = refusal
        # The author's edit stays in the form; saving it again now replaces the newer revision, knowingly.
        form.data = form.data.copy()
        form.data["base_number"] = str(refusal.newer.number)
        return None, outcome, refusal.status
    except Refused as refusal:
        return None, outcome, refusal_to_form(form, refusal)
    messages.success(request, f"Saved revision {revision.number}.")
    return data, outcome, 200


def _page(request: HttpRequest, template: str, context: dict, outcome: Outcome | None, status: int) -> HttpResponse:
    kind = context["kind"]
    return render(
        request,
        template,
        {
            **context,
            "outcome": outcome or Outcome(problems=[]),
            "file_name": FILE_NAMES[kind],
            "history": history_url(kind, context["key"]) if context.get("key") else None,
        },
        status=status,
    )


# --- stages -----------------------------------------------------------------------------------


@author_required
@require_http_methods(["GET"])
def node_list(request: HttpRequest) -> HttpResponse:
    nodes = (
        Node.objects.prefetch_related("prerequisites")
        .annotate(lesson_count=Count("lessons", distinct=True), question_count=Count("questions", distinct=True))
        .order_by("order", "slug")
    )
    for node in nodes:
        node.history = history_url(ItemKind.NODE, node.slug)
    return render(request, "studio/nodes/list.html", {"nodes": nodes})


def _node_context(node_slug: str | None, form: NodeForm) -> dict:
    return {
        "kind": ItemKind.NODE,
        "key": node_slug,
        "form": form,
        "node_slug": node_slug,
        "check_url": reverse("studio:node_check"),
    }


@author_required
@require_http_methods(["GET", "POST"])
def node_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = NodeForm(request.POST)
        data, outcome, status = _save(request, form, kind=ItemKind.NODE, make=form.item_data)
        if data is not None:
            return redirect("studio:node_edit", node_slug=data["slug"])
        return _page(request, "studio/nodes/edit.html", _node_context(None, form), outcome, status)
    last = Node.objects.order_by("-order").values_list("order", flat=True).first()
    form = NodeForm(initial={"order": (last or 0) + 1, "pass_mark": 80})
    return _page(request, "studio/nodes/edit.html", _node_context(None, form), None, 200)


@author_required
@require_http_methods(["GET", "POST"])
def node_edit(request: HttpRequest, node_slug: str) -> HttpResponse:
    row = items.TYPES[ItemKind.NODE].lookup(node_slug)
    if row is None:
        raise Http404("No such stage.")
    before = items.TYPES[ItemKind.NODE].from_row(row)
    initial = NodeForm.initial_from(before)
    if request.method == "POST":
        form = NodeForm(request.POST, node_slug=node_slug, initial=initial)
        data, outcome, status = _save(request, form, kind=ItemKind.NODE, make=form.item_data, before=before)
        if data is not None:
            return redirect("studio:node_edit", node_slug=node_slug)
        return _page(request, "studio/nodes/edit.html", _node_context(node_slug, form), outcome, status)
    form = NodeForm(initial={**initial, "base_number": _base_number(ItemKind.NODE, node_slug)}, node_slug=node_slug)
    return _page(request, "studio/nodes/edit.html", _node_context(node_slug, form), None, 200)


@author_required
@require_POST
def node_check(request: HttpRequest) -> HttpResponse:
    """The problems the stage as typed would be refused for, cycles included; saves nothing. Always 200, so that
    htmx swaps it in (the problems are the answer, not an error of the request)."""
    editing = request.POST.get("editing") or None
    if editing is not None and not Node.objects.filter(slug=editing).exists():
        editing = None
    form = NodeForm(request.POST, node_slug=editing)
    outcome = Outcome(problems=[])
    if form.is_valid():
        data = form.item_data()
        outcome.text = text_of(ItemKind.NODE, data)
        outcome.problems = items.check(ItemKind.NODE, data)
    context = {"form": form, "outcome": outcome, "file_name": FILE_NAMES[ItemKind.NODE], "checked": True}
    return render(request, "studio/nodes/edit.html#check", context)


# --- glossary ---------------------------------------------------------------------------------


@author_required
@require_http_methods(["GET"])
def term_list(request: HttpRequest) -> HttpResponse:
    terms = list(GlossaryTerm.objects.order_by("term"))
    for term in terms:
        term.history = history_url(ItemKind.TERM, term.slug)
    return render(request, "studio/glossary/list.html", {"terms": terms})


def _term_context(term_slug: str | None, form: TermForm) -> dict:
    return {"kind": ItemKind.TERM, "key": term_slug, "form": form, "term_slug": term_slug}


@author_required
@require_http_methods(["GET", "POST"])
def term_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = TermForm(request.POST)
        data, outcome, status = _save(request, form, kind=ItemKind.TERM, make=form.item_data)
        if data is not None:
            return redirect("studio:term_edit", term_slug=data["slug"])
        return _page(request, "studio/glossary/edit.html", _term_context(None, form), outcome, status)
    return _page(request, "studio/glossary/edit.html", _term_context(None, TermForm()), None, 200)


@author_required
@require_http_methods(["GET", "POST"])
def term_edit(request: HttpRequest, term_slug: str) -> HttpResponse:
    row = items.TYPES[ItemKind.TERM].lookup(term_slug)
    if row is None:
        raise Http404("No such term.")
    before = items.TYPES[ItemKind.TERM].from_row(row)
    initial = TermForm.initial_from(before)
    if request.method == "POST":
        form = TermForm(request.POST, term_slug=term_slug, initial=initial)
        data, outcome, status = _save(request, form, kind=ItemKind.TERM, make=form.item_data, before=before)
        if data is not None:
            return redirect("studio:term_edit", term_slug=term_slug)
        return _page(request, "studio/glossary/edit.html", _term_context(term_slug, form), outcome, status)
    form = TermForm(initial={**initial, "base_number": _base_number(ItemKind.TERM, term_slug)}, term_slug=term_slug)
    return _page(request, "studio/glossary/edit.html", _term_context(term_slug, form), None, 200)


# --- FAQ --------------------------------------------------------------------------------------


@author_required
@require_http_methods(["GET"])
def faq_list(request: HttpRequest) -> HttpResponse:
    entries = list(FaqEntry.objects.order_by("order"))
    for entry in entries:
        entry.history = history_url(ItemKind.FAQ, str(entry.order))
    return render(request, "studio/faq/list.html", {"entries": entries})


def _faq_context(order: int | None, form: FaqForm) -> dict:
    return {
        "kind": ItemKind.FAQ,
        "key": str(order) if order is not None else None,
        "form": form,
        "faq_order": order,
        "next_order": next_faq_order(),
    }


@author_required
@require_http_methods(["GET", "POST"])
def faq_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = FaqForm(request.POST)
        order = next_faq_order()
        data, outcome, status = _save(request, form, kind=ItemKind.FAQ, make=lambda: form.item_data(order))
        if data is not None:
            return redirect("studio:faq_edit", faq_order=data["order"])
        return _page(request, "studio/faq/edit.html", _faq_context(None, form), outcome, status)
    return _page(request, "studio/faq/edit.html", _faq_context(None, FaqForm()), None, 200)


@author_required
@require_http_methods(["GET", "POST"])
def faq_edit(request: HttpRequest, faq_order: int) -> HttpResponse:
    row = items.TYPES[ItemKind.FAQ].lookup(str(faq_order))
    if row is None:
        raise Http404("No such FAQ entry.")
    before = items.TYPES[ItemKind.FAQ].from_row(row)
    if request.method == "POST":
        form = FaqForm(request.POST, initial=FaqForm.initial_from(before))
        data, outcome, status = _save(
            request, form, kind=ItemKind.FAQ, make=lambda: form.item_data(faq_order, before), before=before
        )
        if data is not None:
            return redirect("studio:faq_edit", faq_order=faq_order)
        return _page(request, "studio/faq/edit.html", _faq_context(faq_order, form), outcome, status)
    key = str(faq_order)
    form = FaqForm(initial={**FaqForm.initial_from(before), "base_number": _base_number(ItemKind.FAQ, key)})
    return _page(request, "studio/faq/edit.html", _faq_context(faq_order, form), None, 200)
