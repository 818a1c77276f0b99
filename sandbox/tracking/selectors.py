import re
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from mlopslab.refusals import Refused
from sandbox.tracking.models import Experiment, Run

MAX_COMPARE = 10


class FilterError(Refused):
    """A runs filter that cannot be read; the message says where."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message, status=status)


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


def experiment_get_owned(*, owner: User, experiment_id: int) -> Experiment:
    return get_object_or_404(Experiment.objects.select_related("dataset"), pk=experiment_id, owner=owner)


def run_get_owned(*, owner: User, run_id: int) -> Run:
    return get_object_or_404(
        Run.objects.select_related("experiment__dataset", "dataset_version", "replay_of", "job"), pk=run_id, owner=owner
    )


def experiments_owned(*, owner: User) -> QuerySet[Experiment]:
    return Experiment.objects.filter(owner=owner).select_related("dataset")


def replay_matches(run: Run) -> bool | None:
    """Whether a finished replay reproduced its original's metrics exactly; None while either is unfinished."""
    original = run.replay_of
    if original is None or run.status != Run.Status.SUCCEEDED or original.status != Run.Status.SUCCEEDED:
        return None
    return run.metrics == original.metrics and run.test_metrics == original.test_metrics


@dataclass(frozen=True)
class ComparisonRow:
    section: str
    """The section's name on its first row, empty on the others."""
    name: str
    values: list
    same: bool


def runs_for_comparison(*, experiment: Experiment, run_ids: list[int]) -> list[Run] | None:
    """The finished runs of the experiment named by `run_ids`, or None unless 2 to MAX_COMPARE all are."""
    chosen = list(experiment.runs.filter(pk__in=run_ids, status=Run.Status.SUCCEEDED).order_by("pk"))
    if len(chosen) != len(set(run_ids)) or not 2 <= len(chosen) <= MAX_COMPARE:
        return None
    return chosen


def comparison_table(*, runs: list[Run]) -> tuple[list[ComparisonRow], list[str], list[str]]:
    """The runs side by side, a row per field, each saying whether all runs agree; and the param and metric names."""
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
                ComparisonRow(
                    section=section if index == 0 else "",
                    name=name,
                    values=shown,
                    same=len({repr(v) for v in values}) == 1,
                )
            )
    return rows, param_names, metric_names
