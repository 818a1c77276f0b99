"""Pages for experiments and runs: thin views over sandbox.tracking's services and selectors."""

from dataclasses import dataclass, replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from mlopslab.lazy import lazy_module
from mlopslab.numbers import whole_number
from mlopslab.refusals import Refused, refusal_to_form
from sandbox.tracking import selectors, services
from sandbox.tracking.forms import ExperimentForm, NoteForm, RunForm, SweepForm, TagForm
from sandbox.tracking.models import Experiment, Run

# Charts are built as plain data; the module loads with the first chart this process draws.
charts = lazy_module("sandbox.charts")

PAGE = 100
# "Show more" adds a page at a time, up to ten pages; past them a learner is better served by the filter.
MAX_SHOWN = selectors.MAX_ROWS


@login_required
def experiments(request: HttpRequest) -> HttpResponse:
    initial = None
    raw_dataset = request.GET.get("dataset", "")
    dataset_id = whole_number(raw_dataset)
    if request.method == "GET" and dataset_id is not None:
        initial = selectors.experiment_new_initial(owner=request.user, dataset_id=dataset_id)
    form = ExperimentForm(request.POST or None, owner=request.user, initial=initial)
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            experiment = services.experiment_create(
                owner=request.user, name=form.cleaned_data["name"], dataset=form.cleaned_data["dataset"]
            )
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            return redirect("sandbox:experiment", experiment.pk)
    context = {"form": form, "experiments": selectors.experiments_owned(owner=request.user)}
    return render(request, "sandbox/tracking/experiments.html", context, status=status)


@dataclass(frozen=True)
class _TableQuery:
    """What the runs table's URL asks for: sort, filter, chosen columns (None for the default) and length."""

    sort: str
    filter: str
    cols: list[str] | None
    shown: int

    def url(self, **changes: object) -> str:
        """This query as `?…`, with `changes` applied, for the table's links, forms and poll."""
        query = replace(self, **changes)
        params = {"sort": query.sort, "filter": query.filter}
        if query.cols is not None:
            params["cols"] = ",".join(query.cols)
        if query.shown != PAGE:
            params["shown"] = query.shown
        return "?" + urlencode({k: v for k, v in params.items() if v != "" or k == "cols"})


def _table_query(request: HttpRequest) -> _TableQuery:
    get = request.GET
    # `cols` present, even empty, is a choice the learner made; absent means the default columns.
    cols = [key.strip() for raw in get.getlist("cols") for key in raw.split(",") if key.strip()]
    # Past the cap, the capped page: it says to filter instead.
    shown = min(whole_number(get.get("shown", "")) or PAGE, MAX_SHOWN)
    return _TableQuery(get.get("sort", ""), get.get("filter", ""), cols if "cols" in get else None, shown)


def _breakable(text: str) -> str:
    # Long snake_case names may wrap after an underscore instead of widening their column.
    return mark_safe(escape(text).replace("_", "_<wbr>"))


def _header(query: _TableQuery, field: str, label: str, *, numeric: bool = False) -> dict:
    """A sortable header: which way it sorts now, and a link that sorts by it (the other way when it already does)."""
    if query.sort == field:
        direction, next_sort = "ascending", f"-{field}"
    elif query.sort == f"-{field}":
        direction, next_sort = "descending", field
    else:
        # Metrics open best-first for the usual higher-is-better scores; text opens A to Z.
        direction, next_sort = "", f"-{field}" if numeric else field
    return {
        "label": _breakable(label),
        "href": query.url(sort=next_sort, shown=PAGE),
        "sort": direction,
        "numeric": numeric,
    }


def _table_context(request: HttpRequest, experiment: Experiment) -> dict:
    query = _table_query(request)
    try:
        table = selectors.runs_table(
            experiment=experiment, sort=query.sort, filter_text=query.filter, limit=query.shown
        )
        filter_error = ""
    except selectors.FilterError as exc:
        table, filter_error = selectors.RunsTable([], [], []), exc.message
    columns = selectors.runs_table_columns(
        param_names=table.param_names, metric_names=table.metric_names, chosen=query.cols
    )
    shown_columns = [column for column in columns if column.shown]
    if query.cols is not None:
        query = replace(query, cols=[column.key for column in shown_columns])
    runs = table.runs
    more = table.total > len(runs)
    return {
        "experiment": experiment,
        "runs": runs,
        "headers": [
            _header(query, "name", "Run"),
            _header(query, "status", "Status"),
            _header(query, "algorithm", "Algorithm"),
            *(_header(query, c.key, c.name, numeric=c.scope == "metrics") for c in shown_columns),
        ],
        "table_rows": [
            (
                run,
                _breakable(run.algorithm),
                [(c.scope, getattr(run, c.scope).get(c.name)) for c in shown_columns],
            )
            for run in runs
        ],
        "column_groups": [
            ("Parameters", [c for c in columns if c.scope == "params"]),
            ("Metrics", [c for c in columns if c.scope == "metrics"]),
        ],
        "column_count": len(columns),
        "shown_column_count": len(shown_columns),
        "more": more and query.shown < MAX_SHOWN,
        "more_url": query.url(shown=min(query.shown + PAGE, MAX_SHOWN)),
        "at_cap": more and query.shown >= MAX_SHOWN,
        "max_shown": f"{MAX_SHOWN:,}",
        "table_url": query.url(),
        "total": table.total,
        "total_label": f"{table.total:,}" if table.total <= MAX_SHOWN else f"more than {MAX_SHOWN:,}",
        "sort": query.sort,
        "filter": query.filter,
        "cols": None if query.cols is None else ",".join(query.cols),
        "filter_error": filter_error,
        # An unreadable filter shows no runs, so there is nothing to poll for.
        "active": not filter_error and selectors.runs_active(experiment=experiment),
    }


def _forms_context(request: HttpRequest, experiment: Experiment, **forms: object) -> dict:
    if not experiment.trains:
        return {"experiment": experiment}
    algorithm = request.GET.get("algorithm")
    return {
        "experiment": experiment,
        "run_form": forms.get("run_form") or RunForm(experiment=experiment, algorithm=algorithm),
        "sweep_form": forms.get("sweep_form") or SweepForm(experiment=experiment, algorithm=algorithm),
    }


def _experiment_page(request: HttpRequest, experiment: Experiment, status: int = 200, **forms: object) -> HttpResponse:
    context = {**_table_context(request, experiment), **_forms_context(request, experiment, **forms)}
    if context["filter_error"]:
        status = 422
    return render(request, "sandbox/tracking/experiment.html", context, status=status)


@login_required
@require_GET
def experiment_detail(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = selectors.experiment_get_owned(owner=request.user, experiment_id=experiment_id)
    # htmx restoring a page it no longer holds in its history cache asks for the whole page.
    if not request.htmx or request.htmx.history_restore_request:
        return _experiment_page(request, experiment)
    fragment = request.GET.get("fragment")
    if fragment in ("params", "sweep") and not experiment.trains:
        raise Http404("This experiment's runs are RAG evaluations; it has no training form.")
    if fragment == "params":
        return render(request, "sandbox/tracking/experiment.html#run-form", _forms_context(request, experiment))
    if fragment == "sweep":
        return render(request, "sandbox/tracking/experiment.html#sweep-form", _forms_context(request, experiment))
    context = _table_context(request, experiment)
    response = render(
        request, "sandbox/tracking/experiment.html#runs-table", context, status=422 if context["filter_error"] else 200
    )
    if not context["active"] and response.status_code == 200:
        # Nothing left to wait for: 286 ends the table's poll, as the swapped-in table has no trigger.
        response.status_code = HTMX_STOP_POLLING
    return response


def _require_training(experiment: Experiment) -> None:
    if not experiment.trains:
        raise services.RunRefused(
            "This experiment's runs are RAG evaluations: save a configuration on the RAG page.", status=409
        )


@login_required
@require_POST
def run_create(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = selectors.experiment_get_owned(owner=request.user, experiment_id=experiment_id)
    _require_training(experiment)
    form = RunForm(request.POST, experiment=experiment)
    status = 422
    if form.is_valid():
        try:
            run = services.run_create(
                experiment=experiment,
                version=form.cleaned_data["version"],
                config=form.config(),
                name=form.cleaned_data["name"],
            )
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            messages.success(request, f"Run “{run.name}” is queued.")
            return redirect("sandbox:run", run.pk)
    return _experiment_page(request, experiment, status=status, run_form=form)


@login_required
@require_POST
def sweep_create(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = selectors.experiment_get_owned(owner=request.user, experiment_id=experiment_id)
    _require_training(experiment)
    form = SweepForm(request.POST, experiment=experiment)
    status = 422
    if form.is_valid():
        try:
            runs = services.sweep_create(
                experiment=experiment,
                version=form.cleaned_data["version"],
                base=form.config(),
                grid=form.cleaned_data["grid"],
            )
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            messages.success(request, f"Sweep of {len(runs)} runs queued as one job.")
            return redirect("sandbox:experiment", experiment.pk)
    return _experiment_page(request, experiment, status=status, sweep_form=form)


def _chosen_ids(values: list[str]) -> list[int]:
    return [number for number in map(whole_number, values) if number is not None]


@login_required
def compare(request: HttpRequest, experiment_id: int) -> HttpResponse:
    """POST records the comparison (a stage's challenge reads it) and shows it; GET only shows one."""
    experiment = selectors.experiment_get_owned(owner=request.user, experiment_id=experiment_id)
    if request.method == "POST":
        ids = _chosen_ids(request.POST.getlist("runs"))
        try:
            services.experiment_compare(experiment=experiment, run_ids=ids)
        except Refused as refusal:
            messages.error(request, refusal.message)
            return redirect("sandbox:experiment", experiment.pk)
        query = urlencode({"runs": ids}, doseq=True)
        return redirect(f"{reverse('sandbox:compare', args=[experiment.pk])}?{query}")
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    runs = selectors.runs_for_comparison(experiment=experiment, run_ids=_chosen_ids(request.GET.getlist("runs")))
    if runs is None:
        messages.error(
            request, f"Choose between 2 and {selectors.MAX_COMPARE} finished runs of this experiment to compare."
        )
        return redirect("sandbox:experiment", experiment.pk)
    rows, param_names, metric_names = selectors.comparison_table(runs=runs)
    focus = next(
        (m for m in ("val_f1", "val_r2", "val_accuracy", "hit_rate_at_3") if m in metric_names),
        metric_names[0] if metric_names else "",
    )
    context = {
        "experiment": experiment,
        "runs": runs,
        "rows": rows,
        "only_differences": request.GET.get("diff") == "1",
        "parallel_chart": charts.parallel_html(runs, param_names, focus) if focus else "",
        "bars_chart": charts.metric_bars_html(runs, [m for m in metric_names if not m.endswith("_std")]),
    }
    return render(request, "sandbox/tracking/compare.html", context)


def _run_context(run: Run) -> dict:
    context = {"run": run, "job": run.job, "finished": run.status in (Run.Status.SUCCEEDED, Run.Status.FAILED)}
    if run.status == Run.Status.SUCCEEDED and run.experiment.trains:
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
        context["replay_matches"] = selectors.replay_matches(run)
    return context


@login_required
@require_GET
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = selectors.run_get_owned(owner=request.user, run_id=run_id)
    if request.htmx:
        context = _run_context(run)
        response = render(request, "sandbox/tracking/run.html#run-body", context)
        if context["finished"]:
            response.status_code = HTMX_STOP_POLLING
        return response
    context = {**_run_context(run), "tag_form": TagForm(), "note_form": NoteForm(initial={"note": run.note})}
    return render(request, "sandbox/tracking/run.html", context)


def _run_action(run: Run, action: str, data: dict) -> str:
    """Carry out one action on a run and return the message to show."""
    if action == "reveal":
        services.run_reveal_test(run=run)
        return "The test score is revealed."
    if action == "tag":
        form = TagForm(data)
        if not form.is_valid():
            raise services.RunRefused("A tag needs a name (up to 50 characters) and a value (up to 200).")
        services.run_set_tag(run=run, key=form.cleaned_data["key"], value=form.cleaned_data["value"])
        return f"Tag {form.cleaned_data['key']!r} set."
    if action == "note":
        form = NoteForm(data)
        if not form.is_valid():
            raise services.RunRefused("A note may be at most 5,000 characters.")
        services.run_set_note(run=run, note=form.cleaned_data["note"])
        return "Note saved."
    raise Http404("There is no such action on a run.")


@login_required
@require_POST
def run_action(request: HttpRequest, run_id: int, action: str) -> HttpResponse:
    run = selectors.run_get_owned(owner=request.user, run_id=run_id)
    try:
        if action == "replay":
            replay = services.run_replay(run=run)
            messages.success(request, f"Replay “{replay.name}” is queued with the same data, parameters and seed.")
            return redirect("sandbox:run", replay.pk)
        messages.success(request, _run_action(run, action, request.POST))
    except Refused as refusal:
        messages.error(request, refusal.message)
    return redirect("sandbox:run", run.pk)
