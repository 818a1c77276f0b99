import re
from dataclasses import dataclass
from typing import NamedTuple

from django.contrib.auth.models import User
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from mlopslab.refusals import Refused
from sandbox.datasets.models import Dataset
from sandbox.tracking.models import Experiment, Run

MAX_COMPARE = 10


class FilterError(Refused):
    """A runs filter or sort that cannot be read; the message says where."""

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
SCOPES = ("params", "metrics", "tags")
_NOUNS = {"params": ("parameter", "parameters"), "metrics": ("metric", "metrics"), "tags": ("tag", "tags")}
# More value columns than this do not fit beside a run's name at 1366 px; past it, params start hidden.
MAX_DEFAULT_COLUMNS = 10


def _visible_metrics(run: Run) -> dict:
    return {**run.metrics, **(run.test_metrics if run.test_revealed_at else {})}


def _value(run: Run, scope: str | None, key: str) -> object:
    if scope == "metrics":
        return _visible_metrics(run).get(key)
    if scope == "params" and key == "algorithm" and key not in run.params:
        # The algorithm is a column of its own here; MLflow users log it as a param and filter it so.
        return run.algorithm
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


def _label(scope: str | None, key: str) -> str:
    return f"{scope}.{key}" if scope else key


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


def _known_keys(runs: list[Run]) -> dict[str, set[str]]:
    """Every param, metric and tag name that some run of the experiment has, as a filter can reach it."""
    known: dict[str, set[str]] = {scope: set() for scope in SCOPES}
    for run in runs:
        known["params"].update(run.params)
        known["metrics"].update(_visible_metrics(run))
        known["tags"].update(run.tags)
    if runs:
        known["params"].add("algorithm")
    return known


def _check_keys(clauses: list[tuple[str | None, str, str, str]], runs: list[Run]) -> None:
    known = _known_keys(runs)
    for scope, key, _, _ in clauses:
        if scope is None or key in known[scope]:
            continue
        if scope == "metrics" and any(key in run.test_metrics for run in runs):
            raise FilterError(f"{key} is sealed until you reveal a run's test score; filter on validation metrics.")
        one, many = _NOUNS[scope]
        names = sorted(known[scope])
        listing = f"the {many} are {', '.join(names)}" if names else f"no run has any {many} yet"
        raise FilterError(f"No run in this experiment has a {one} called {key!r}; {listing}.")


def _compared(actual: object, operator: str, wanted: str, label: str) -> bool:
    if isinstance(actual, str | bool):
        # A text value stays text even when it reads as a number: "5" and 5.0 are not the same param.
        if operator not in ("=", "!="):
            raise FilterError(f"{label} is text, so it can only be compared with = or !=, not {operator}.")
        return _OPERATORS[operator](str(actual), wanted)
    left, right = _number(actual), _number(wanted)
    if left is None:
        raise FilterError(f"{label} holds neither text nor a number, so it cannot be filtered on.")
    if right is None:
        raise FilterError(f"{label} is a number, so compare it with a number, not {wanted!r}.")
    return _OPERATORS[operator](left, right)


def _matches(run: Run, clauses: list[tuple[str | None, str, str, str]]) -> bool:
    for scope, key, operator, wanted in clauses:
        actual = _value(run, scope, key)
        if actual is None:
            return False
        if not _compared(actual, operator, wanted, _label(scope, key)):
            return False
    return True


def parse_run_sort(sort: str) -> tuple[str | None, str, bool]:
    """`-metrics.val_f1` → ("metrics", "val_f1", descending); a field the table cannot sort by is a FilterError."""
    descending = sort.startswith("-")
    field = sort.removeprefix("-")
    scope, dot, key = field.partition(".")
    if dot and scope in SCOPES and key:
        return scope, key, descending
    if not dot and field in _ATTRIBUTES:
        return None, field, descending
    raise FilterError(f"Cannot sort by {field!r}; click a column's header to sort by it.")


class RunsTable(NamedTuple):
    runs: list[Run]
    """The runs that pass the filter, in the asked order."""
    param_names: list[str]
    """Every param that some run of the experiment logged, filtered out or not, so the columns stay put."""
    metric_names: list[str]


def runs_table(*, experiment: Experiment, sort: str = "", filter_text: str = "") -> RunsTable:
    """The experiment's runs, filtered and sorted, with the param and metric names its columns can show.

    A filter naming a param, metric or tag that no run of the experiment has is refused with the names
    there are, instead of quietly matching nothing.
    """
    clauses = parse_run_filter(filter_text)
    order = parse_run_sort(sort) if sort else None
    table_only = experiment.runs.defer("charts", "environment", "note", "rows", "preparation", "split", "error")
    every = list(table_only.order_by("-created_at", "-pk"))
    _check_keys(clauses, every)
    runs = [run for run in every if _matches(run, clauses)]
    param_names = sorted({name for run in every for name in run.params})
    metric_names = sorted({name for run in every for name in run.metrics})
    if order:
        scope, key, descending = order
        present, missing = [], []
        for run in runs:
            (missing if _value(run, scope, key) is None else present).append(run)

        def sort_key(run: Run) -> tuple:
            value = _value(run, scope, key)
            number = _number(value)
            return (number is None, number if number is not None else 0.0, str(value))

        present.sort(key=sort_key, reverse=descending)
        runs = present + missing
    return RunsTable(runs, param_names, metric_names)


@dataclass(frozen=True)
class Column:
    """A param or metric column of the runs table, and whether the learner shows it."""

    scope: str
    name: str
    shown: bool

    @property
    def key(self) -> str:
        return f"{self.scope}.{self.name}"


def runs_table_columns(*, param_names: list[str], metric_names: list[str], chosen: list[str] | None) -> list[Column]:
    """The table's param and metric columns: the `chosen` keys, or by default every metric and, while they
    fit beside them, the params."""
    if chosen is None:
        params_fit = len(param_names) + len(metric_names) <= MAX_DEFAULT_COLUMNS
        shown = {f"metrics.{n}" for n in metric_names} | ({f"params.{n}" for n in param_names} if params_fit else set())
    else:
        shown = set(chosen)
    return [
        Column(scope, name, f"{scope}.{name}" in shown)
        for scope, names in (("params", param_names), ("metrics", metric_names))
        for name in names
    ]


def experiment_get_owned(*, owner: User, experiment_id: int) -> Experiment:
    return get_object_or_404(Experiment.objects.select_related("dataset"), pk=experiment_id, owner=owner)


def run_get_owned(*, owner: User, run_id: int) -> Run:
    return get_object_or_404(
        Run.objects.select_related("experiment__dataset", "dataset_version", "replay_of", "job"), pk=run_id, owner=owner
    )


def experiments_owned(*, owner: User) -> QuerySet[Experiment]:
    return Experiment.objects.filter(owner=owner).select_related("dataset").annotate(run_count=Count("runs"))


def experiment_new_initial(*, owner: User, dataset_id: int) -> dict | None:
    """A new experiment's form values when it starts from one of the owner's datasets: that dataset, and a
    name from it that none of the owner's experiments has yet; None for a dataset that is not theirs."""
    dataset = Dataset.objects.filter(owner=owner, pk=dataset_id).first()
    if dataset is None:
        return None
    taken = set(Experiment.objects.filter(owner=owner).values_list("name", flat=True))
    base = f"{dataset.name[:80]} experiment"
    name, number = base, 2
    while name in taken:
        name, number = f"{base} {number}", number + 1
    return {"dataset": dataset.pk, "name": name}


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
