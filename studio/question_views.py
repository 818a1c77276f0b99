"""The studio's question bank: the list by stage, an editor for every kind of question checked as the bank's
file is while the author types, saved with a revision, and a "try it" panel that grades an answer to the
question as it stands in the editor exactly as a learner's answer is graded."""

import random
from types import SimpleNamespace

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lessons import grading, question_forms, question_kinds
from lessons.content_files import Problem
from lessons.grading import InvalidAnswer
from lessons.models import Choice, Node, Question
from lessons.rendering import render_markdown
from mlopslab.refusals import Refused
from studio import question_forms as editor
from studio.access import author_required
from studio.item_data import Data, question_data_from_row
from studio.models import ItemKind
from studio.revisions import Invalid, StaleEdit, item_save, latest_revision

TRY_PK = "try"
"""The unsaved question's stand-in key in the try-it panel's markup (`q-try`) and shuffles."""


def _history_url(qid: str) -> str:
    return reverse("studio:history", kwargs={"kind": ItemKind.QUESTION, "key": qid})


def _node(slug: object) -> Node:
    node = Node.objects.filter(slug=str(slug or "")).first()
    if node is None:
        raise Refused("Choose a stage that exists for the question.", status=404)
    return node


def _kind(value: object) -> str:
    if value not in question_kinds.KINDS:
        raise Refused(f"A question's kind is one of {', '.join(question_kinds.KINDS)}.", status=400)
    return str(value)


def _base_number(request: HttpRequest) -> int:
    try:
        return int(str(request.POST.get("base_number", "")))
    except ValueError:
        raise Refused("The form lost the revision it began from; open the question again.", status=400) from None


# --- the bank ---------------------------------------------------------------------------------


@author_required
@require_GET
def question_list(request: HttpRequest) -> HttpResponse:
    nodes = list(Node.objects.order_by("order"))
    node_filter = request.GET.get("node") or ""
    kind_filter = request.GET.get("kind") or ""
    questions = Question.objects.select_related("node").order_by("node__order", "order", "pk")
    if node_filter:
        questions = questions.filter(node__slug=node_filter)
    if kind_filter:
        questions = questions.filter(kind=kind_filter)
    by_node: dict[int, list[Question]] = {}
    for question in questions:
        by_node.setdefault(question.node_id, []).append(question)
    stages = [
        {"node": node, "questions": by_node.get(node.pk, [])}
        for node in nodes
        if not node_filter or node.slug == node_filter
    ]
    context = {
        "stages": stages,
        "nodes": nodes,
        "kinds": question_kinds.KINDS,
        "node_filter": node_filter,
        "kind_filter": kind_filter,
        "count": sum(len(stage["questions"]) for stage in stages),
    }
    return render(request, "studio/questions/list.html", context)


# --- the editor -------------------------------------------------------------------------------


def _stale_title(stale: StaleEdit) -> str:
    who = stale.newer.author.username if stale.newer.author else "the content files"
    return f"Revision {stale.newer.number} by {who}"


def _editor_page(
    request: HttpRequest,
    state: editor.EditorState,
    *,
    question: Question | None,
    base_number: int | None,
    message: str = "",
    checked: editor.Checked | None = None,
    refusal: Refused | None = None,
    status: int = 200,
) -> HttpResponse:
    node = Node.objects.get(slug=state.node)
    context = {
        "state": state.padded(),
        "node": node,
        "question": question,
        "spec": state.spec,
        "base_number": base_number,
        "message": message,
        "checked": checked,
        "refusal": refusal,
        "stale": refusal if isinstance(refusal, StaleEdit) else None,
        "stale_title": _stale_title(refusal) if isinstance(refusal, StaleEdit) else "",
        "history_url": _history_url(state.qid) if question else None,
        "difficulties": editor.DIFFICULTIES,
        "truth_values": editor.TRUE_FALSE,
        "positions": range(1, editor.MAX_ITEMS + 1),
        "try_preview": _try_html(request, state, checked) if question and checked is None else None,
    }
    return render(request, "studio/questions/edit.html", context, status=status)


def _save(
    request: HttpRequest, state: editor.EditorState, *, question: Question | None, base_number: int | None
) -> HttpResponse:
    message = str(request.POST.get("message") or "").strip()
    page = {"question": question, "base_number": base_number, "message": message}
    checked = editor.check_state(state)
    if checked.problems:
        return _editor_page(request, state, checked=checked, status=422, **page)
    try:
        revision = item_save(
            kind=ItemKind.QUESTION, data=checked.data, author=request.user, message=message, base_number=base_number
        )
    except Invalid as invalid:
        checked.problems = invalid.problems
        return _editor_page(request, state, checked=checked, status=invalid.status, **page)
    except Refused as refusal:  # a stale edit (with its diff), a taken id or a question gone meanwhile
        return _editor_page(request, state, refusal=refusal, status=refusal.status, **page)
    saved = Question.objects.get(qid=checked.data["id"])
    messages.success(request, f"Saved revision {revision.number} of {saved.qid}.")
    return redirect("studio:question_edit", question_id=saved.pk)


@author_required
@require_http_methods(["GET", "POST"])
def question_create(request: HttpRequest) -> HttpResponse:
    node, kind = _node(request.GET.get("node")), _kind(request.GET.get("kind"))
    if request.method == "POST":
        qid = str(request.POST.get("qid") or "").strip()
        state = editor.state_from_post(request.POST, node=node.slug, kind=kind, qid=qid)
        return _save(request, state, question=None, base_number=None)
    return _editor_page(request, editor.EditorState(node=node.slug, kind=kind), question=None, base_number=None)


def _question(question_id: int) -> Question:
    return get_object_or_404(Question.objects.select_related("node").prefetch_related("choices"), pk=question_id)


@author_required
@require_http_methods(["GET", "POST"])
def question_edit(request: HttpRequest, question_id: int) -> HttpResponse:
    question = _question(question_id)
    if request.method == "POST":
        state = editor.state_from_post(request.POST, node=question.node.slug, kind=question.kind, qid=question.qid)
        return _save(request, state, question=question, base_number=_base_number(request))
    revision = latest_revision(kind=ItemKind.QUESTION, key=question.qid)
    state = editor.state_from_data(question_data_from_row(question))
    return _editor_page(request, state, question=question, base_number=revision.number if revision else 0)


def _posted_state(request: HttpRequest) -> tuple[editor.EditorState, bool]:
    """The editor's fields posted to a fragment; the stage, kind and id ride along as hidden fields. True when
    the question is new (its id must not be taken)."""
    post = request.POST
    node, kind = _node(post.get("node")), _kind(post.get("kind"))
    qid = str(post.get("qid") or "").strip()
    return editor.state_from_post(post, node=node.slug, kind=kind, qid=qid), post.get("creating") == "1"


@author_required
@require_POST
def question_check(request: HttpRequest) -> HttpResponse:
    """The problems of the question as it stands in the editor, as the bank's reader finds them; changes nothing."""
    state, creating = _posted_state(request)
    checked = editor.check_state(state)
    if creating and state.qid and Question.objects.filter(qid=state.qid).exists():
        checked.problems.append(Problem("", 1, f"there is already a question with id {state.qid!r}"))
        checked.bad_keys.add("id")
    return render(request, "studio/questions/partials/check.html", {"checked": checked})


# --- try it -----------------------------------------------------------------------------------


def _html(source: str) -> str:
    return render_markdown(source).html if source else ""


def unsaved_question(data: Data, node: Node) -> tuple[Question, list[Choice]]:
    """The question as the editor holds it, as model objects that are never saved: what grading reads."""
    question = Question(
        node=node, qid=data["id"], kind=data["kind"], difficulty=data["difficulty"], tags=data["tags"],
        prompt=data["prompt"], prompt_html=_html(data["prompt"]), explanation=data["explanation"],
        explanation_html=_html(data["explanation"]), answer=data["answer"], model_answer=data["model_answer"],
        model_answer_html=_html(data["model_answer"]),
    )  # fmt: skip
    question.pk = TRY_PK
    choices = [
        Choice(
            pk=order,
            order=order,
            text=choice["text"],
            text_html=_html(choice["text"]),
            correct=choice["correct"],
            feedback=choice["feedback"],
            feedback_html=_html(choice["feedback"]),
        )
        for order, choice in enumerate(data["choices"], 1)
    ]
    return question, choices


def _unanswered(request: HttpRequest, question: Question, choices: list[Choice], *, seed: int, error: str = "") -> str:
    """The question's inputs exactly as a learner sees them, answered to the try-it view instead of a quiz."""
    answer_url = f"{reverse('studio:question_try')}?grade=1&seed={seed}"
    form = question_forms.QuestionForm(
        question=question,
        number=1,
        answer_url=answer_url,
        reveal_url="",
        csrf_token=get_token(request),
        choices=list(enumerate(grading.display_choices(question, choices, seed=seed))) if choices else (),
        items=grading.display_items(question, seed=seed) if question.kind == Question.Kind.ORDERING else (),
        ratings=grading.RATINGS,
        error=error or None,
        revealed=True,  # an explain-it card straight at its model answer and rating: the author wrote it
    )
    return question_forms.question_html(form)


def _try_html(request: HttpRequest, state: editor.EditorState, checked: editor.Checked | None = None) -> str:
    checked = checked or editor.check_state(state)
    if checked.data is None:
        return ""
    question, choices = unsaved_question(checked.data, Node.objects.get(slug=state.node))
    return _unanswered(request, question, choices, seed=random.randrange(1, 2**31))


@author_required
@require_POST
def question_try(request: HttpRequest) -> HttpResponse:
    """Show the editor's question as the learner would, or grade an answer to it as the quiz grades one."""
    state, _ = _posted_state(request)
    state.qid = state.qid or "new-question"  # a new question can be tried before it has its id
    checked = editor.check_state(state)
    if checked.data is None:
        return render(request, "studio/questions/partials/try_problems.html", {"checked": checked}, status=422)
    question, choices = unsaved_question(checked.data, _node(state.node))
    try:
        seed = int(request.GET.get("seed", ""))
    except ValueError:
        seed = random.randrange(1, 2**31)
    if request.GET.get("grade") != "1":
        return HttpResponse(_unanswered(request, question, choices, seed=seed))
    try:
        response = question_kinds.parse_answer(question, choices, request.POST, seed=seed)
    except InvalidAnswer as refusal:
        return HttpResponse(
            _unanswered(request, question, choices, seed=seed, error=refusal.message), status=refusal.status
        )
    correct = question_kinds.is_correct(question, choices, response)
    picked = set(response.get("choices", []))
    context = {
        "question": question,
        "number": 1,
        "answer": SimpleNamespace(response=response, correct=correct, rating=response.get("rating")),
        "ratings": grading.RATINGS,
        "marked": [(choice, choice.pk in picked) for choice in grading.display_choices(question, choices, seed=seed)],
        "attempt": None,
    }
    return render(request, "studio/questions/partials/try_result.html", context)
