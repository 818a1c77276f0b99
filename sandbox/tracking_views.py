"""Pages for datasets, experiments and runs: thin views over sandbox.data and sandbox.tracking."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from sandbox import charts, data, selectors, tracking
from sandbox.forms import (
    BuiltinDatasetForm,
    ChurnForm,
    ExperimentForm,
    NewChurnDatasetForm,
    NewUploadDatasetForm,
    NoteForm,
    RunForm,
    SweepForm,
    TagForm,
    UploadForm,
)
from sandbox.ml import datasets as ml_datasets
from sandbox.models import Dataset, Experiment, Run

PAGE = 100
# Room for the form fields around the largest allowed file.
MAX_REQUEST_BYTES = ml_datasets.MAX_UPLOAD_BYTES + 64 * 1024


def _oversized(request: HttpRequest) -> bool:
    """True for a request too large to hold an allowed upload, checked before Django reads the body."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_REQUEST_BYTES
    except ValueError:
        return True


TOO_LARGE = "The upload is larger than 10 MB; nothing was saved."


def _datasets_page(request: HttpRequest, status: int = 200, **forms: object) -> HttpResponse:
    context = {
        "datasets": Dataset.objects.filter(owner=request.user).prefetch_related("versions"),
        "builtin_form": forms.get("builtin_form") or BuiltinDatasetForm(),
        "churn_form": forms.get("churn_form") or NewChurnDatasetForm(),
        "upload_form": forms.get("upload_form") or NewUploadDatasetForm(),
    }
    return render(request, "sandbox/datasets.html", context, status=status)


@login_required
@require_GET
def datasets(request: HttpRequest) -> HttpResponse:
    return _datasets_page(request)


@login_required
@require_POST
def dataset_create(request: HttpRequest, source: str) -> HttpResponse:
    form_class = {"builtin": BuiltinDatasetForm, "churn": NewChurnDatasetForm, "upload": NewUploadDatasetForm}.get(
        source
    )
    if form_class is None:
        return HttpResponse("Unknown kind of dataset.", status=404)
    if _oversized(request):
        messages.error(request, TOO_LARGE)
        return _datasets_page(request, status=413)
    form = form_class(request.POST, request.FILES)
    if form.is_valid():
        values = form.cleaned_data
        try:
            if source == "builtin":
                dataset = data.dataset_create_builtin(owner=request.user, name=values["builtin"])
            elif source == "churn":
                settings = {k: values[k] for k in ("rows", "noise", "churn_rate", "missing_rate", "seed")}
                dataset = data.dataset_create_churn(owner=request.user, name=values["name"], settings=settings)
            else:
                dataset = data.dataset_create_upload(
                    owner=request.user, name=values["name"], raw=values["file"], target=values["target"].strip()
                )
        except data.DatasetRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Dataset “{dataset.name}” created with version 1.")
            return redirect("sandbox:dataset", dataset.pk)
    return _datasets_page(request, status=422, **{f"{source}_form": form})


def _dataset_page(request: HttpRequest, dataset: Dataset, status: int = 200, **forms: object) -> HttpResponse:
    versions = list(dataset.versions.prefetch_related("runs__experiment"))
    context = {
        "dataset": dataset,
        "versions": versions,
        "churn_form": forms.get("churn_form") or ChurnForm(initial=versions[0].settings if versions else None),
        "upload_form": forms.get("upload_form") or UploadForm(),
    }
    return render(request, "sandbox/dataset.html", context, status=status)


@login_required
@require_GET
def dataset_detail(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get_owned(owner=request.user, dataset_id=dataset_id)
    return _dataset_page(request, dataset)


@login_required
@require_POST
def dataset_version_add(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = selectors.dataset_get_owned(owner=request.user, dataset_id=dataset_id)
    if _oversized(request):
        messages.error(request, TOO_LARGE)
        return _dataset_page(request, dataset, status=413)
    if dataset.source == Dataset.Source.BUILTIN:
        messages.error(request, "A built-in dataset has one version: its content never changes.")
        return redirect("sandbox:dataset", dataset.pk)
    is_churn = dataset.source == Dataset.Source.CHURN
    form = ChurnForm(request.POST) if is_churn else UploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            if is_churn:
                version, created = data.churn_version_add(dataset=dataset, settings=form.cleaned_data)
            else:
                version, created = data.upload_version_add(dataset=dataset, raw=form.cleaned_data["file"])
        except data.DatasetRefused as exc:
            form.add_error(None, str(exc))
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
    return _dataset_page(request, dataset, status=422, **{key: form})


@login_required
@require_GET
def dataset_version_profile(request: HttpRequest, dataset_id: int, number: int) -> HttpResponse:
    dataset = selectors.dataset_get_owned(owner=request.user, dataset_id=dataset_id)
    version = get_object_or_404(dataset.versions, number=number)
    frame = data.version_frame(version)
    columns = ml_datasets.profile(frame)
    histograms = {
        column.name: charts.histogram_html(frame[column.name].dropna().tolist(), column.name)
        if column.numeric and column.name != dataset.target
        else charts.bars_html(column.top, column.name)
        for column in columns[:40]
    }
    balance = ml_datasets.class_balance(frame, dataset.target) if dataset.task == ml_datasets.CLASSIFICATION else []
    context = {
        "dataset": dataset,
        "version": version,
        "columns": columns,
        "histograms": histograms,
        "balance_chart": charts.bars_html(balance, f"Class balance of {dataset.target}") if balance else "",
        "missing_total": sum(c.missing for c in columns),
    }
    return render(request, "sandbox/profile.html", context)


@login_required
def experiments(request: HttpRequest) -> HttpResponse:
    form = ExperimentForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        experiment = Experiment.objects.create(
            owner=request.user, name=form.cleaned_data["name"], dataset=form.cleaned_data["dataset"]
        )
        return redirect("sandbox:experiment", experiment.pk)
    context = {"form": form, "experiments": Experiment.objects.filter(owner=request.user).select_related("dataset")}
    return render(request, "sandbox/experiments.html", context, status=422 if form.errors else 200)


def _experiment_context(request: HttpRequest, experiment: Experiment, **forms: object) -> dict:
    sort, filter_text = request.GET.get("sort", ""), request.GET.get("filter", "")
    try:
        runs, param_names, metric_names = selectors.runs_table(
            experiment=experiment, sort=sort, filter_text=filter_text
        )
        filter_error = ""
    except selectors.FilterError as exc:
        runs, param_names, metric_names, filter_error = [], [], [], str(exc)
    shown = int(request.GET.get("shown", PAGE)) if request.GET.get("shown", "").isdigit() else PAGE
    algorithm = request.GET.get("algorithm")
    return {
        "experiment": experiment,
        "runs": runs[:shown],
        "table_rows": [
            (run, [run.params.get(n, "") for n in param_names], [run.metrics.get(m) for m in metric_names])
            for run in runs[:shown]
        ],
        "more": len(runs) > shown,
        "next_shown": shown + PAGE,
        "total": len(runs),
        "param_names": param_names,
        "metric_names": metric_names,
        "sort": sort,
        "filter": filter_text,
        "filter_error": filter_error,
        "active": any(run.status in (Run.Status.QUEUED, Run.Status.RUNNING) for run in runs),
        "run_form": forms.get("run_form") or RunForm(experiment=experiment, algorithm=algorithm),
        "sweep_form": forms.get("sweep_form") or SweepForm(experiment=experiment, algorithm=algorithm),
    }


@login_required
@require_GET
def experiment_detail(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = selectors.experiment_get_owned(owner=request.user, experiment_id=experiment_id)
    context = _experiment_context(request, experiment)
    if request.htmx and request.GET.get("fragment") == "params":
        return render(request, "sandbox/experiment.html#run-form", context)
    if request.htmx and request.GET.get("fragment") == "sweep":
        return render(request, "sandbox/experiment.html#sweep-form", context)
    if request.htmx:
        return render(
            request, "sandbox/experiment.html#runs-table", context, status=422 if context["filter_error"] else 200
        )
    return render(request, "sandbox/experiment.html", context, status=422 if context["filter_error"] else 200)


@login_required
@require_POST
def run_create(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = selectors.experiment_get_owned(owner=request.user, experiment_id=experiment_id)
    form = RunForm(request.POST, experiment=experiment)
    if form.is_valid():
        try:
            run = tracking.run_create(
                experiment=experiment,
                version=form.cleaned_data["version"],
                config=form.config(),
                name=form.cleaned_data["name"],
            )
        except tracking.RunRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Run “{run.name}” is queued.")
            return redirect("sandbox:run", run.pk)
    return render(
        request, "sandbox/experiment.html", _experiment_context(request, experiment, run_form=form), status=422
    )


@login_required
@require_POST
def sweep_create(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = selectors.experiment_get_owned(owner=request.user, experiment_id=experiment_id)
    form = SweepForm(request.POST, experiment=experiment)
    if form.is_valid():
        try:
            runs = tracking.sweep_create(
                experiment=experiment,
                version=form.cleaned_data["version"],
                base=form.config(),
                grid=form.cleaned_data["grid"],
            )
        except tracking.RunRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Sweep of {len(runs)} runs queued as one job.")
            return redirect("sandbox:experiment", experiment.pk)
    return render(
        request, "sandbox/experiment.html", _experiment_context(request, experiment, sweep_form=form), status=422
    )


@login_required
@require_GET
def compare(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = selectors.experiment_get_owned(owner=request.user, experiment_id=experiment_id)
    ids = [int(raw) for raw in request.GET.getlist("runs") if raw.isdigit()]
    runs = list(experiment.runs.filter(pk__in=ids, status=Run.Status.SUCCEEDED).order_by("pk"))
    if len(runs) != len(set(ids)) or not 2 <= len(runs) <= tracking.MAX_COMPARE:
        messages.error(
            request, f"Choose between 2 and {tracking.MAX_COMPARE} finished runs of this experiment to compare."
        )
        return redirect("sandbox:experiment", experiment.pk)
    tracking.experiment_compare(experiment=experiment, runs=runs)
    param_names = sorted({n for run in runs for n in run.params})
    metric_names = sorted({n for run in runs for n in run.metrics})
    rows = []
    for section, names, getter in (
        ("Run", ["algorithm", "seed", "dataset version"], None),
        ("Parameters", param_names, "params"),
        ("Metrics", metric_names, "metrics"),
    ):
        for index, name in enumerate(names):
            if getter:
                values = [getattr(run, getter).get(name) for run in runs]
            elif name == "dataset version":
                values = [f"v{run.dataset_version.number} {run.dataset_version.short_hash}" for run in runs]
            else:
                values = [getattr(run, name) for run in runs]
            shown = [f"{v:.4f}" if isinstance(v, float) and getter == "metrics" else v for v in values]
            rows.append(
                {
                    "section": section if index == 0 else "",
                    "name": name,
                    "values": shown,
                    "same": len({repr(v) for v in values}) == 1,
                }
            )
    focus = next(
        (m for m in ("val_f1", "val_r2", "val_accuracy") if m in metric_names), metric_names[0] if metric_names else ""
    )
    context = {
        "experiment": experiment,
        "runs": runs,
        "rows": rows,
        "only_differences": request.GET.get("diff") == "1",
        "parallel_chart": charts.parallel_html(runs, param_names, focus) if focus else "",
        "bars_chart": charts.metric_bars_html(runs, [m for m in metric_names if not m.endswith("_std")]),
    }
    return render(request, "sandbox/compare.html", context)


def _run_context(run: Run) -> dict:
    context = {"run": run, "job": run.job, "finished": run.status in (Run.Status.SUCCEEDED, Run.Status.FAILED)}
    if run.status == Run.Status.SUCCEEDED:
        chart_data = run.charts
        context["charts"] = [
            html
            for html in (
                charts.confusion_html(chart_data["labels"], chart_data["confusion"])
                if "confusion" in chart_data
                else "",
                charts.roc_html(chart_data["roc"]) if "roc" in chart_data else "",
                charts.residuals_html(chart_data["residuals"]) if "residuals" in chart_data else "",
                charts.importances_html(chart_data["importances"]) if chart_data.get("importances") else "",
            )
            if html
        ]
        context["replay_matches"] = tracking.replay_matches(run)
    return context


@login_required
@require_GET
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = selectors.run_get_owned(owner=request.user, run_id=run_id)
    context = {**_run_context(run), "tag_form": TagForm(), "note_form": NoteForm(initial={"note": run.note})}
    if request.htmx:
        response = render(request, "sandbox/run.html#run-body", context)
        if context["finished"]:
            response.status_code = HTMX_STOP_POLLING
        return response
    return render(request, "sandbox/run.html", context)


@login_required
@require_POST
def run_action(request: HttpRequest, run_id: int, action: str) -> HttpResponse:
    run = selectors.run_get_owned(owner=request.user, run_id=run_id)
    try:
        if action == "replay":
            replay = tracking.run_replay(run=run)
            messages.success(request, f"Replay “{replay.name}” is queued with the same data, parameters and seed.")
            return redirect("sandbox:run", replay.pk)
        if action == "reveal":
            tracking.run_reveal_test(run=run)
        elif action == "tag":
            form = TagForm(request.POST)
            if not form.is_valid():
                raise tracking.RunRefused("A tag needs a name (up to 50 characters) and a value (up to 200).")
            tracking.run_set_tag(run=run, key=form.cleaned_data["key"], value=form.cleaned_data["value"])
        elif action == "note":
            form = NoteForm(request.POST)
            if not form.is_valid():
                raise tracking.RunRefused("A note may be at most 5,000 characters.")
            tracking.run_set_note(run=run, note=form.cleaned_data["note"])
        else:
            return HttpResponse("Unknown action.", status=404)
    except tracking.RunRefused as exc:
        messages.error(request, str(exc))
    return redirect("sandbox:run", run.pk)
