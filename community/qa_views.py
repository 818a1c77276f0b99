"""Pages of the questions and answers: the list (site-wide, a stage's, a lesson's), asking, one question with its
answers and comments, and the POSTs that answer, comment, vote and accept.

Every form works without JavaScript (a POST, then a redirect back); htmx enhances it by swapping only the part that
changed. An open question page polls for new answers; the poll stops (HTTP 286) once the question is locked.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from community import selectors, services
from community.models import Post
from community.qa_forms import AskForm, BodyForm
from community.visibility import visible_posts
from lessons.course import course_snapshot
from lessons.models import Lesson, Node
from mlopslab.refusals import Refused, refusal_to_form

POLL_SECONDS = 10
STOP_POLLING = 286


def _stage_and_lesson(request: HttpRequest) -> tuple[Node | None, Lesson | None]:
    """The stage (`?node=<slug>`) or lesson (`?lesson=<stage slug>/<lesson slug>`) a list or a new question is of."""
    lesson = None
    node_slug = request.GET.get("node", "").replace("\x00", "").strip()
    lesson_ref = request.GET.get("lesson", "").replace("\x00", "").strip()
    if lesson_ref:
        stage_slug, _, lesson_slug = lesson_ref.partition("/")
        lesson = (
            Lesson.objects.filter(node__slug=stage_slug, slug=lesson_slug, status=Lesson.Status.PUBLISHED)
            .select_related("node")
            .only("pk", "slug", "title", "node__slug", "node__title", "node__order")
            .first()
        )
        if lesson is None:
            raise Http404("No such lesson.")
        return lesson.node, lesson
    if node_slug:
        node = course_snapshot().by_slug.get(node_slug)
        if node is None:
            raise Http404("No such stage.")
        return node, None
    return None, None


@login_required
@require_GET
def question_list(request: HttpRequest) -> HttpResponse:
    node, lesson = _stage_and_lesson(request)
    sort = request.GET.get("sort", "newest")
    if sort not in selectors.SORTS:
        sort = "newest"
    q = request.GET.get("q", "").strip()[:200]
    posts = selectors.questions(user=request.user, node=node, lesson=lesson, sort=sort, q=q)
    page = Paginator(posts, selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "node": node,
        "lesson": lesson,
        "sort": sort,
        "sorts": selectors.SORTS,
        "q": q,
        "ask_query": f"?lesson={lesson.node.slug}/{lesson.slug}" if lesson else (f"?node={node.slug}" if node else ""),
    }
    if request.htmx and request.htmx.target == "question-results":
        return render(request, "community/qa/list.html#results", context)
    return render(request, "community/qa/list.html", context)


def _attachable(user: object) -> list:
    from community import snapshots

    return snapshots.attachable(user)


@login_required
@require_http_methods(["GET", "POST"])
def question_ask(request: HttpRequest) -> HttpResponse:
    attachable = _attachable(request.user)
    if request.method == "POST":
        form = AskForm(request.POST, attachable=attachable)
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                from community import snapshots

                taken = [snapshots.snapshot_take(user=request.user, ref=ref) for ref in data.get("attach", [])]
                question = services.question_ask(
                    author=request.user, title=data["title"], body=data["body"], node=data["node"],
                    lesson=data["lesson"], snapshots=taken,
                )  # fmt: skip
            except Refused as refusal:
                status = refusal_to_form(form, refusal)
            else:
                messages.success(request, "Your question is posted. You will be notified of answers.")
                return redirect("community:question", post_id=question.pk)
        return render(request, "community/qa/ask.html", {"form": form}, status=status)
    node, lesson = _stage_and_lesson(request)
    initial = {"node": str(node.pk) if node else "", "lesson": str(lesson.pk) if lesson else ""}
    form = AskForm(initial=initial, attachable=attachable)
    return render(request, "community/qa/ask.html", {"form": form})


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """`render`, with the page's CSRF field made once (`csrf_input`) for its many small forms."""
    token = get_token(request)
    context["csrf_input"] = format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token)
    return render(request, template, context, status=status)


def _question_or_404(request: HttpRequest, post_id: int) -> Post:
    question = selectors.question_for(post_id=post_id, user=request.user)
    if question is None:
        raise Http404("No such question.")
    return question


def _post_or_404(request: HttpRequest, post_id: int) -> Post:
    return get_object_or_404(visible_posts(Post.objects.select_related("question", "author"), request.user), pk=post_id)


def _page_context(request: HttpRequest, question: Post, **extra: object) -> dict:
    context = {
        "question": question,
        "thread": selectors.thread(question=question, user=request.user),
        "answer_form": BodyForm(prefix_id="answer-body"),
        "poll": POLL_SECONDS,
    }
    context.update(extra)
    return context


def _question_url(question_id: int, anchor: str = "") -> str:
    url = reverse("community:question", kwargs={"post_id": question_id})
    return f"{url}#{anchor}" if anchor else url


@login_required
@require_GET
def question_detail(request: HttpRequest, post_id: int) -> HttpResponse:
    question = _question_or_404(request, post_id)
    return _render(request, "community/qa/question.html", _page_context(request, question))


@login_required
@require_GET
def question_updates(request: HttpRequest, post_id: int) -> HttpResponse:
    """What the open page polls for: answers newer than `?after=<answer id>`, and those hidden since."""
    question = selectors.question_for(post_id=post_id, user=request.user)
    if question is None:
        return HttpResponse("", status=STOP_POLLING)
    try:
        after = max(0, int(request.GET.get("after", "0")))
    except ValueError:
        after = 0
    new = selectors.new_answers(question=question, user=request.user, after=after)
    if not (new.answers or new.hidden_ids or question.locked):
        return HttpResponse(status=204)
    context = {"question": question, "new": new, "poll": POLL_SECONDS}
    status = STOP_POLLING if question.locked else 200
    return _render(request, "community/qa/question.html#updates", context, status=status)


def _answers_section(request: HttpRequest, question: Post, *, status: int = 200, **extra: object) -> HttpResponse:
    question.refresh_from_db(fields=["answer_count", "accepted_answer", "locked_at", "score"])
    return _render(
        request, "community/qa/question.html#answers", _page_context(request, question, **extra), status=status
    )


@login_required
@require_POST
def answer_create(request: HttpRequest, post_id: int) -> HttpResponse:
    question = _question_or_404(request, post_id)
    form = BodyForm(request.POST, prefix_id="answer-body")
    form.is_valid()
    try:
        answer = services.answer_post(author=request.user, question=question, body=form.cleaned_data.get("body", ""))
    except Refused as refusal:
        status = refusal_to_form(form, refusal)
        if request.htmx:
            return _answers_section(request, question, status=status, answer_form=form)
        context = _page_context(request, question, answer_form=form)
        return _render(request, "community/qa/question.html", context, status=status)
    if request.htmx:
        return _answers_section(request, question, posted=answer.pk)
    messages.success(request, "Your answer is posted.")
    return redirect(_question_url(question.pk, f"post-{answer.pk}"))


@login_required
@require_POST
def comment_create(request: HttpRequest, post_id: int) -> HttpResponse:
    parent = _post_or_404(request, post_id)
    if parent.kind == Post.Kind.COMMENT:
        raise Refused("Comments take no comments: comment on the question or the answer.", status=400)
    question_id = parent.pk if parent.kind == Post.Kind.QUESTION else parent.question_id
    body = request.POST.get("body", "")
    error = ""
    status = 200
    try:
        comment = services.comment_post(author=request.user, parent=parent, body=body)
    except Refused as refusal:
        error, status = refusal.message, refusal.status
    if request.htmx:
        question = _question_or_404(request, question_id)
        parent.comment_list = list(
            visible_posts(Post.objects.filter(parent=parent), request.user).select_related("author").order_by("pk")
        )
        parent.question = question if parent.kind == Post.Kind.ANSWER else None
        parent.comment_error, parent.comment_draft = error, body if error else ""
        selectors.decorate([parent], {parent.pk: parent.comment_list}, {})
        context = {"post": parent, "question": question}
        return _render(request, "community/qa/question.html#comments", context, status=status)
    if error:
        question = _question_or_404(request, question_id)
        context = _page_context(request, question)
        thread = context["thread"]
        for post in [question, *thread.answers]:
            if post.pk == parent.pk:
                post.comment_error, post.comment_draft = error, body
        return _render(request, "community/qa/question.html", context, status=status)
    return redirect(_question_url(question_id, f"post-{comment.pk}"))


@login_required
@require_POST
def vote(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _post_or_404(request, post_id)
    value = {"up": 1, "down": -1}.get(request.POST.get("value", ""), 0)
    question_id = post.pk if post.kind == Post.Kind.QUESTION else post.question_id
    if not request.htmx:
        services.vote_cast(voter=request.user, post=post, value=value)
        return redirect(_question_url(question_id, f"post-{post.pk}"))
    status = 200
    try:
        post.my_vote = services.vote_cast(voter=request.user, post=post, value=value)
    except Refused as refusal:
        status = refusal.status
        post.vote_error = refusal.message
        post.my_vote = post.votes.filter(voter=request.user).values_list("value", flat=True).first() or 0
    post.refresh_from_db(fields=["score"])
    selectors.decorate([post], {}, {post.pk: post.my_vote})
    question = post if post.kind == Post.Kind.QUESTION else post.question
    return _render(request, "community/qa/question.html#vote", {"post": post, "question": question}, status=status)


@login_required
@require_POST
def accept(request: HttpRequest, post_id: int) -> HttpResponse:
    answer = _post_or_404(request, post_id)
    if answer.kind != Post.Kind.ANSWER:
        raise Http404("No such answer.")
    if not request.htmx:
        accepted = services.answer_accept(user=request.user, answer=answer)
        messages.success(request, "Answer accepted." if accepted else "The answer is no longer accepted.")
        return redirect(_question_url(answer.question_id, f"post-{answer.pk}"))
    question = _question_or_404(request, answer.question_id)
    try:
        services.answer_accept(user=request.user, answer=answer)
    except Refused as refusal:
        return _answers_section(request, question, status=refusal.status, answers_error=refusal.message)
    return _answers_section(request, question)
