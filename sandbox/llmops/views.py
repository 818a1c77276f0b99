"""Pages of the RAG evaluation sandbox: thin views over sandbox.llmops' services and selectors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from lessons.challenges import challenge_status
from mlopslab.refusals import Refused, refusal_to_form
from sandbox.llmops import rag, selectors, services
from sandbox.llmops.forms import RagConfigForm, initial_from
from sandbox.llmops.models import RagConfigVersion
from sandbox.tracking.models import Run

CHALLENGE = "llmops.rag-eval"


def _prices() -> dict:
    return {"prompt": rag.PRICE_PROMPT_PER_MILLION, "answer": rag.PRICE_ANSWER_PER_MILLION}


def _home_context(request: HttpRequest, form: RagConfigForm | None = None) -> dict:
    baseline = services.baseline_ensure(owner=request.user)
    promoted = services.promoted_version(owner=request.user)
    rows = selectors.versions_table(owner=request.user)
    latest = rows[-1].version if rows else baseline
    if form is None:
        form = RagConfigForm(initial={**initial_from(selectors.config_of(latest)), "note": ""})
    baseline_row = next((row for row in rows if row.version.number == 1), None)
    return {
        "rows": rows,
        "baseline": baseline,
        "baseline_row": baseline_row,
        "promoted": promoted,
        "form": form,
        "active": selectors.any_active(rows),
        "chart": selectors.hit_rates_chart(rows),
        "promotions": selectors.promotions_owned(owner=request.user),
        "has_content": selectors.content_loaded(),
        "no_content": services.NO_CONTENT,
        "prices": _prices(),
        "answer_words": rag.ANSWER_WORDS,
        "golden_count": len(rag.golden_load()),
        "challenge": challenge_status(CHALLENGE, request.user),
        "experiment": next((row.evaluation.run.experiment for row in rows if row.evaluation), None),
    }


@login_required
@require_GET
def rag_home(request: HttpRequest) -> HttpResponse:
    context = _home_context(request)
    if request.htmx and request.GET.get("fragment") == "versions":
        response = render(request, "sandbox/llmops/home.html#versions", context)
        if not context["active"]:
            response.status_code = HTMX_STOP_POLLING
        return response
    return render(request, "sandbox/llmops/home.html", context)


@login_required
@require_POST
def version_create(request: HttpRequest) -> HttpResponse:
    form = RagConfigForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            version = services.version_save(owner=request.user, config=form.config(), note=form.cleaned_data["note"])
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            messages.success(request, f"Saved v{version.number}; its evaluation on the golden set is queued.")
            return redirect("sandbox:rag_version", version.number)
    return render(request, "sandbox/llmops/home.html", _home_context(request, form), status=status)


def _version_context(request: HttpRequest, version: RagConfigVersion) -> dict:
    evaluations = selectors.evaluations_of(version)
    newest = evaluations[0] if evaluations else None
    finished = next((e for e in evaluations if e.run.status == Run.Status.SUCCEEDED), None)
    promoted = services.promoted_version(owner=request.user)
    baseline = services.baseline_ensure(owner=request.user)
    baseline_eval = None
    compare_url = ""
    if finished is not None and version.number != 1:
        baseline_eval = services.latest_evaluation(baseline, corpus_id=finished.run.dataset_version_id)
        if baseline_eval is not None:
            query = urlencode({"runs": [baseline_eval.run.pk, finished.run.pk]}, doseq=True)
            compare_url = f"{reverse('sandbox:compare', args=[finished.run.experiment_id])}?{query}"
    answers = selectors.answers_of(finished) if finished else []
    base_metrics = baseline_eval.run.metrics if baseline_eval else {}
    metric_rows = [
        (name, value, base_metrics.get(name)) for name, value in (finished.run.metrics if finished else {}).items()
    ]
    return {
        "version": version,
        "config": version.params(),
        "evaluations": evaluations,
        "newest": newest,
        "job": newest.run.job if newest else None,
        "active": newest is not None and newest.run.status in (Run.Status.QUEUED, Run.Status.RUNNING),
        "finished": finished,
        "answers": answers,
        "metric_rows": metric_rows,
        "baseline_eval": baseline_eval,
        "compare_url": compare_url,
        "promoted": promoted,
        "is_promoted": promoted.pk == version.pk,
        "gates": list(version.gate_results.select_related("against")[:10]),
        "prices": _prices(),
    }


@login_required
@require_GET
def version_detail(request: HttpRequest, number: int) -> HttpResponse:
    services.baseline_ensure(owner=request.user)
    version = selectors.version_get_owned(owner=request.user, number=number)
    context = _version_context(request, version)
    if request.htmx and request.GET.get("fragment") == "evaluation":
        response = render(request, "sandbox/llmops/version.html#evaluation", context)
        if not context["active"]:
            response.status_code = HTMX_STOP_POLLING
        return response
    return render(request, "sandbox/llmops/version.html", context)


@login_required
@require_POST
def version_evaluate(request: HttpRequest, number: int) -> HttpResponse:
    version = selectors.version_get_owned(owner=request.user, number=number)
    try:
        services.evaluation_queue(version=version)
    except Refused as refusal:
        # Already running, no content, a full quota or the queue down: said on the page, as a run's replay does.
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"The evaluation of v{version.number} is queued.")
    return redirect("sandbox:rag_version", version.number)


@login_required
@require_POST
def version_promote(request: HttpRequest, number: int) -> HttpResponse:
    version = selectors.version_get_owned(owner=request.user, number=number)
    try:
        promotion = services.version_promote(version=version)
    except Refused as refusal:
        messages.error(request, refusal.message)
        return redirect("sandbox:rag_version", version.number)
    if promotion.passed:
        messages.success(request, f"The gate passed: v{version.number} is now the promoted version.")
    else:
        messages.error(
            request, f"The gate failed, so v{promotion.against.number} stays promoted: " + " ".join(promotion.reasons)
        )
    return redirect("sandbox:rag_version", version.number)
