"""Reporting a post, the moderators' queue and their actions, and an author's edit and delete."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from community import moderation
from community.models import Post
from community.moderation_forms import HideForm, PostEditForm, ReportForm
from community.notifications import post_url
from community.visibility import can_see, is_moderator
from mlopslab.refusals import Refused, refusal_to_form


def _visible_post(request: HttpRequest, post_id: int) -> Post:
    """The post, when the viewer may see it; a hidden one is not found for others, as one that does not exist."""
    post = get_object_or_404(Post.objects.select_related("author", "question"), pk=post_id)
    if not can_see(post, request.user):
        raise Http404("No such post.")
    return post


def _moderator_required(request: HttpRequest) -> None:
    if not is_moderator(request.user):
        raise Refused("Only instructors and staff can moderate the community.", status=403)


def _back(request: HttpRequest, post: Post) -> HttpResponse:
    """Back where the action was taken: the moderation queue or the post in its thread."""
    if request.POST.get("next") == "queue" and is_moderator(request.user):
        return redirect("community:moderation")
    return redirect(post_url(post))


@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _visible_post(request, post_id)
    form = ReportForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                moderation.report_create(post=post, reporter=request.user, **form.cleaned_data)
            except Refused as refusal:
                status = refusal_to_form(form, refusal)
            else:
                if request.htmx:
                    return render(request, "community/moderation/report.html#reported", {"post": post})
                messages.success(request, "Thank you: a moderator will look at the post.")
                return redirect(post_url(post))
    # htmx: the form alone, in place of the post's Report link (GET) or of itself (a refused POST).
    fragment = "#report_form" if request.method == "POST" else "#report_box"
    template = "community/moderation/report.html" + (fragment if request.htmx else "")
    return render(request, template, {"post": post, "form": form}, status=status)


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    _moderator_required(request)
    context = {
        "items": moderation.moderation_queue(),
        "hidden": moderation.hidden_posts(),
        "hide_form": HideForm(),
    }
    return render(request, "community/moderation/queue.html", context)


@login_required
@require_POST
def hide(request: HttpRequest, post_id: int) -> HttpResponse:
    _moderator_required(request)
    post = _visible_post(request, post_id)
    form = HideForm(request.POST)
    if not form.is_valid():
        raise Refused("Say why the post is hidden (at most 300 characters): its author is told.", status=422)
    moderation.post_hide(post=post, moderator=request.user, reason=form.cleaned_data["reason"])
    messages.success(request, "The post is hidden; its author has been told why.")
    return _back(request, post)


@login_required
@require_POST
def restore(request: HttpRequest, post_id: int) -> HttpResponse:
    _moderator_required(request)
    post = _visible_post(request, post_id)
    moderation.post_restore(post=post, moderator=request.user)
    messages.success(request, "The post is shown again; its author has been told.")
    return _back(request, post)


@login_required
@require_POST
def dismiss(request: HttpRequest, post_id: int) -> HttpResponse:
    _moderator_required(request)
    post = _visible_post(request, post_id)
    closed = moderation.reports_dismiss(post=post, moderator=request.user)
    messages.success(request, f"{closed} report{'s' if closed != 1 else ''} dismissed; the post stays as it is.")
    return _back(request, post)


def _lock(request: HttpRequest, post_id: int, *, locked: bool) -> HttpResponse:
    _moderator_required(request)
    post = _visible_post(request, post_id)
    moderation.question_lock(question=post, moderator=request.user, locked=locked)
    messages.success(request, "The question is locked: it takes no new answers or comments." if locked else
                     "The question is open again for answers and comments.")  # fmt: skip
    return _back(request, post)


@login_required
@require_POST
def lock(request: HttpRequest, post_id: int) -> HttpResponse:
    return _lock(request, post_id, locked=True)


@login_required
@require_POST
def unlock(request: HttpRequest, post_id: int) -> HttpResponse:
    return _lock(request, post_id, locked=False)


@login_required
@require_GET
def history(request: HttpRequest, post_id: int) -> HttpResponse:
    """A post's text now and before each of its edits, for moderators."""
    _moderator_required(request)
    post = _visible_post(request, post_id)
    revisions = post.revisions.select_related("edited_by")
    return render(request, "community/moderation/history.html", {"post": post, "revisions": revisions})


def _own_post(request: HttpRequest, post_id: int) -> Post:
    """The viewer's own post; anyone else's answers 404, as one that does not exist."""
    return get_object_or_404(Post.objects.select_related("question"), pk=post_id, author=request.user)


@login_required
@require_http_methods(["GET", "POST"])
def post_edit(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _own_post(request, post_id)
    with_title = post.kind == Post.Kind.QUESTION
    initial = {"title": post.title, "body": post.body}
    form = PostEditForm(request.POST if request.method == "POST" else None, initial=initial, with_title=with_title)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                moderation.post_edit(
                    post=post, editor=request.user, title=form.cleaned_data.get("title", ""),
                    body=form.cleaned_data["body"],
                )  # fmt: skip
            except Refused as refusal:
                status = refusal_to_form(form, refusal)
            else:
                messages.success(request, "Saved: your post shows it was edited.")
                return redirect(post_url(post))
    return render(request, "community/moderation/edit.html", {"post": post, "form": form}, status=status)


@login_required
@require_POST
def post_delete(request: HttpRequest, post_id: int) -> HttpResponse:
    post = _own_post(request, post_id)
    question = moderation.post_delete(post=post, user=request.user)
    messages.success(request, "Your post is deleted.")
    if question is None:
        return redirect("community:question_list")
    return redirect(post_url(question))
