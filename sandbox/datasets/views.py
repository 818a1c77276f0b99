"""Pages for datasets and their versions: thin views over sandbox.datasets' services and selectors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mlopslab.lazy import lazy_module
from mlopslab.limits import accepts_body
from mlopslab.refusals import Refused, refusal_to_form
from sandbox.datasets import selectors, services
from sandbox.datasets.forms import BuiltinDatasetForm, ChurnForm, NewChurnDatasetForm, NewUploadDatasetForm, UploadForm
from sandbox.datasets.models import Dataset
from sandbox.ml.catalog import MAX_UPLOAD_BYTES

# Charts are built as plain data; the module loads with the first chart this process draws.
charts = lazy_module("sandbox.charts")

# Room for the form fields around the largest allowed file.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
TOO_LARGE = "The upload is larger than 10 MB; nothing was saved."
MAX_CHARTS = 40
"""The profile page charts at most this many columns (the target's first); its table lists them all."""
CREATE_FORMS = {"builtin": BuiltinDatasetForm, "churn": NewChurnDatasetForm, "upload": NewUploadDatasetForm}


def _datasets_page(request: HttpRequest, status: int = 200, **forms: object) -> HttpResponse:
    context = {
        "datasets": selectors.datasets_owned(owner=request.user),
        "builtin_form": forms.get("builtin_form") or BuiltinDatasetForm(),
        "churn_form": forms.get("churn_form") or NewChurnDatasetForm(),
        "upload_form": forms.get("upload_form") or NewUploadDatasetForm(),
    }
    return render(request, "sandbox/datasets/datasets.html", context, status=status)


@login_required
@require_GET
def datasets(request: HttpRequest) -> HttpResponse:
    return _datasets_page(request)


def _create(source: str, owner: object, values: dict) -> Dataset:
    if source == "builtin":
        return services.dataset_create_builtin(owner=owner, name=values["builtin"])
    if source == "churn":
        settings = {k: values[k] for k in ("rows", "noise", "churn_rate", "missing_rate", "seed")}
        return services.dataset_create_churn(owner=owner, name=values["name"], settings=settings)
    return services.dataset_create_upload(
        owner=owner, name=values["name"], raw=values["file"], target=values["target"].strip()
    )


def _create_too_large(request: HttpRequest, source: str) -> HttpResponse | None:
    """The datasets page with the message, for an upload refused from its size before it was read."""
    if not request.user.is_authenticated:
        return None
    messages.error(request, TOO_LARGE)
    return _datasets_page(request, status=413)


@accepts_body(MAX_REQUEST_BYTES, message=TOO_LARGE, too_large=_create_too_large)
@login_required
@require_POST
def dataset_create(request: HttpRequest, source: str) -> HttpResponse:
    form_class = CREATE_FORMS.get(source)
    if form_class is None:
        raise Http404("There is no such kind of dataset.")
    form = form_class(request.POST, request.FILES)
    status = 422
    if form.is_valid():
        try:
            dataset = _create(source, request.user, form.cleaned_data)
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            messages.success(request, f"Dataset “{dataset.name}” created with version 1.")
            return redirect("sandbox:dataset", dataset.pk)
    return _datasets_page(request, status=status, **{f"{source}_form": form})


def _dataset_page(request: HttpRequest, dataset: Dataset, status: int = 200, **forms: object) -> HttpResponse:
    versions = selectors.dataset_versions(dataset=dataset)
    context = {
        "dataset": dataset,
        "versions": versions,
        "churn_form": forms.get("churn_form") or ChurnForm(initial=versions[0].settings if versions else None),
        "upload_form": forms.get("upload_form") or UploadForm(),
    }
    return render(request, "sandbox/datasets/dataset.html", context, status=status)


@login_required
@require_GET
def dataset_detail(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get_owned(owner=request.user, dataset_id=dataset_id)
    return _dataset_page(request, dataset)


def _version_too_large(request: HttpRequest, dataset_id: int) -> HttpResponse | None:
    """The dataset's page with the message, for an upload refused from its size before it was read."""
    if not request.user.is_authenticated:
        return None
    dataset = selectors.dataset_get_owned(owner=request.user, dataset_id=dataset_id)
    messages.error(request, TOO_LARGE)
    return _dataset_page(request, dataset, status=413)


@accepts_body(MAX_REQUEST_BYTES, message=TOO_LARGE, too_large=_version_too_large)
@login_required
@require_POST
def dataset_version_add(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get_owned(owner=request.user, dataset_id=dataset_id)
    is_churn = dataset.source == Dataset.Source.CHURN
    form = ChurnForm(request.POST) if is_churn else UploadForm(request.POST, request.FILES)
    status = 422
    if form.is_valid():
        try:
            if is_churn:
                version, created = services.churn_version_add(dataset=dataset, settings=form.cleaned_data)
            else:
                version, created = services.upload_version_add(dataset=dataset, raw=form.cleaned_data["file"])
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            if created:
                messages.success(request, f"Saved version {version.number} ({version.short_hash}).")
            else:
                messages.info(
                    request,
                    f"That content is already version {version.number} ({version.short_hash}): "
                    "same content, same version.",
                )
            return redirect("sandbox:dataset", dataset.pk)
    key = "churn_form" if is_churn else "upload_form"
    return _dataset_page(request, dataset, status=status, **{key: form})


@login_required
@require_GET
def dataset_version_profile(request: HttpRequest, dataset_id: int, number: int) -> HttpResponse:
    dataset = selectors.dataset_get_owned(owner=request.user, dataset_id=dataset_id)
    version = selectors.version_get(dataset=dataset, number=number)
    columns, balance = selectors.version_profile(version=version)
    # The target first: its class balance (or its distribution) is what a learner looks for.
    charted = sorted(columns, key=lambda c: c.name != dataset.target)[:MAX_CHARTS]
    histograms = {}
    for column in charted:
        if column.name == dataset.target and balance:
            histograms[column.name] = charts.bars_html(balance, f"{column.name}: class balance")
        elif column.numeric:
            histograms[column.name] = charts.histogram_html(column.bins, column.name)
        else:
            histograms[column.name] = charts.bars_html(column.bars, column.name)
    context = {
        "dataset": dataset,
        "version": version,
        "columns": columns,
        "histograms": histograms,
        "missing_total": sum(c.missing for c in columns),
    }
    return render(request, "sandbox/datasets/profile.html", context)
