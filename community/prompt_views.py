"""A lesson's discussion prompts: answer one (htmx swaps the prompt in place; without JavaScript the answer is saved
and the learner sent back to the lesson), read it on its own page with every peer's answer once answered, and, for
instructors, read their own cohorts' answers."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from community import prompts
from community.models import DiscussionPrompt
from community.prompt_forms import answer_form, with_form
from mlopslab.refusals import Refused, refusal_to_form
from studio.access import author_required

BLOCK = "community/prompts/block.html"
MAX_PAGE = 10_000


def _page(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return min(int(raw), MAX_PAGE) if raw.isdigit() and len(raw) < 7 and int(raw) > 0 else 1


def _page_context(request: HttpRequest, prompt: DiscussionPrompt, form: object = None, page: int = 1) -> dict:
    """The prompt's own page: the prompt, the user's answer and form, and a page of peers' answers if they may."""
    per_page = prompts.PEERS_PER_PAGE
    state = prompts.prompt_state(prompt=prompt, user=request.user, limit=per_page, offset=(page - 1) * per_page)
    state.form = form or answer_form(state)
    return {
        "state": state,
        "prompt": prompt,
        "lesson": prompt.lesson,
        "node": prompt.lesson.node,
        "page": page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page * per_page < state.peer_count else None,
        "full_page": True,
    }


@login_required
@require_GET
def prompt_detail(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """The prompt as a fragment (htmx) or a page. Peers' answers are in neither until the user has answered."""
    prompt = prompts.readable_prompt(user=request.user, prompt_id=prompt_id)
    if request.htmx:
        state = with_form(prompts.prompt_state(prompt=prompt, user=request.user))
        return render(request, BLOCK, {"state": state})
    return render(request, "community/prompts/prompt.html", _page_context(request, prompt, page=_page(request)))


@login_required
@require_POST
def prompt_answer(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """Write or edit the user's answer. Refused (empty, too long, too many this hour) in place with the message."""
    prompt = prompts.readable_prompt(user=request.user, prompt_id=prompt_id)
    state = prompts.prompt_state(prompt=prompt, user=request.user)
    form = answer_form(state, request.POST)
    status = 422
    if form.is_valid():
        model = form.cleaned_data["model"] if "model" in form.fields else None
        try:
            prompts.prompt_answer_save(prompt=prompt, author=request.user, body=form.cleaned_data["body"], model=model)
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            if request.htmx:
                state = with_form(prompts.prompt_state(prompt=prompt, user=request.user))
                return render(request, BLOCK, {"state": state, "saved": True})
            messages.success(request, "Your answer is shared: your peers' answers are below it.")
            return redirect(f"{prompt.lesson.get_absolute_url()}#prompt-card-{prompt.pk}")
    if request.htmx:
        state.form = form
        return render(request, BLOCK, {"state": state}, status=status)
    return render(request, "community/prompts/prompt.html", _page_context(request, prompt, form), status=status)


@author_required
@require_GET
def prompt_cohort_answers(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """Every answer to the prompt by a learner of the instructor's own cohorts."""
    prompt = get_object_or_404(DiscussionPrompt.objects.select_related("lesson__node"), pk=prompt_id)
    context = {
        "prompt": prompt,
        "lesson": prompt.lesson,
        "rows": prompts.cohort_answers(prompt=prompt, instructor=request.user),
        "cohort_count": request.user.cohorts_taught.count(),
    }
    return render(request, "community/prompts/cohort_answers.html", context)


@login_required
@require_POST
def prompt_answer_moderate(request: HttpRequest, answer_id: int) -> HttpResponse:
    """A moderator hides a prompt answer, or shows a hidden one again; back to where they came from."""
    hide = request.POST.get("action") != "restore"
    answer = prompts.prompt_answer_moderate(answer_id=answer_id, moderator=request.user, hide=hide)
    messages.success(
        request, "Answer hidden: only its author and moderators see it." if hide else "Answer shown again."
    )
    back = request.POST.get("next", "")
    if back == "cohorts":
        return redirect("community:prompt_cohort_answers", prompt_id=answer.prompt_id)
    return redirect(f"{answer.prompt.lesson.get_absolute_url()}#prompt-card-{answer.prompt_id}")
