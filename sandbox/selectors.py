import re

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from sandbox.models import Dataset, Experiment, Job, Run


def job_get_owned(*, owner: User, job_id: int) -> Job:
    """The learner's own job, or 404: another learner's id looks like no job at all."""
    return get_object_or_404(Job, pk=job_id, owner=owner)


def jobs_recent(*, owner: User, limit: int = 10) -> QuerySet[Job]:
    return Job.objects.filter(owner=owner)[:limit]


class FilterError(ValueError):
    """A runs filter that cannot be read; the message says where."""


_CLAUSE = re.compile(r"^\s*(?:(metrics|params|tags)\.)?([A-Za-z_][\w.-]*)\s*(!=|>=|<=|=|>|<)\s*(.+?)\s*$")
_ATTRIBUTES = {"name", "status", "algorithm", "seed"}
_OPERATORS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _value(run: Run, scope: str | None, key: str) -> object:
    if scope == "metrics":
        return {**run.metrics, **(run.test_metrics if run.test_revealed_at else {})}.get(key)
    if scope in ("params", "tags"):
        return getattr(run, scope).get(key)
    return getattr(run, key)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_run_filter(text: str) -> list[tuple[str | None, str, str, str]]:
    """MLflow-style filter: `metrics.val_f1 > 0.9 and params.max_depth = 5 and status = succeeded`."""
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        match = _CLAUSE.match(part)
        if not match:
            raise FilterError(f"Cannot read {part!r}; write e.g. metrics.val_f1 > 0.9 or params.max_depth = 5.")
        scope, key, operator, value = match.groups()
        if value[0] in "<>=!":
            raise FilterError(f"Cannot read {part!r}: one comparison per condition, e.g. metrics.val_f1 > 0.9.")
        if scope is None and key not in _ATTRIBUTES:
            raise FilterError(
                f"Unknown field {key!r}; use metrics.NAME, params.NAME, tags.NAME or {', '.join(sorted(_ATTRIBUTES))}."
            )
        clauses.append((scope, key, operator, value.strip().strip("'\"")))
    return clauses


def _matches(run: Run, clauses: list[tuple[str | None, str, str, str]]) -> bool:
    for scope, key, operator, wanted in clauses:
        actual = _value(run, scope, key)
        if actual is None:
            return False
        left, right = _number(actual), _number(wanted)
        if left is not None and right is not None:
            ok = _OPERATORS[operator](left, right)
        elif operator in ("=", "!="):
            ok = _OPERATORS[operator](str(actual), wanted)
        else:
            raise FilterError(f"{key} is not a number, so it cannot be compared with {operator}.")
        if not ok:
            return False
    return True


def runs_table(
    *, experiment: Experiment, sort: str = "", filter_text: str = ""
) -> tuple[list[Run], list[str], list[str]]:
    """The experiment's runs, filtered and sorted, with the param and metric columns to show."""
    clauses = parse_run_filter(filter_text)
    runs = [
        run
        for run in experiment.runs.defer("charts", "environment", "note").order_by("-created_at", "-pk")
        if _matches(run, clauses)
    ]
    param_names = sorted({name for run in runs for name in run.params})
    metric_names = sorted({name for run in runs for name in run.metrics})
    if sort:
        descending = sort.startswith("-")
        scope, _, key = sort.lstrip("-").partition(".")
        if not key:
            scope, key = None, scope

        field_scope = scope if scope in ("metrics", "params", "tags") else None
        present, missing = [], []
        for run in runs:
            (missing if _value(run, field_scope, key) is None else present).append(run)

        def sort_key(run: Run) -> tuple:
            value = _value(run, field_scope, key)
            number = _number(value)
            return (number is None, number if number is not None else 0.0, str(value))

        present.sort(key=sort_key, reverse=descending)
        runs = present + missing
    return runs, param_names, metric_names


def dataset_get_owned(*, owner: User, dataset_id: int) -> Dataset:
    return get_object_or_404(Dataset, pk=dataset_id, owner=owner)


def experiment_get_owned(*, owner: User, experiment_id: int) -> Experiment:
    return get_object_or_404(Experiment.objects.select_related("dataset"), pk=experiment_id, owner=owner)


def run_get_owned(*, owner: User, run_id: int) -> Run:
    return get_object_or_404(
        Run.objects.select_related("experiment__dataset", "dataset_version", "replay_of", "job"), pk=run_id, owner=owner
    )
