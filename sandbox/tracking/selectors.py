import re
from dataclasses import dataclass
from typing import NamedTuple

from django.contrib.auth.models import User
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from mlopslab.refusals import Refused
from sandbox.datasets.models import Dataset
from sandbox.tracking.models import (
    KEY_LENGTH,
    TEXT_LENGTH,
    Experiment,
    ExperimentKey,
    Run,
    RunValue,
    ValueKind,
    as_number,
)

MAX_COMPARE = 10


class FilterError(Refused):
    """A runs filter or sort that cannot be read; the message says where."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message, status=status)


_CLAUSE = re.compile(r"^\s*(?:(metrics|params|tags)\.)?([A-Za-z_][\w.-]*)\s*(!=|>=|<=|=|>|<)\s*(.+?)\s*$")
_ATTRIBUTES = {"name", "status", "algorithm", "seed"}
# Attributes the runs table indexes as values (status changes, so it is sorted by its own index instead).
_INDEXED_ATTRIBUTES = {"name", "algorithm", "seed"}
_LOOKUPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
SCOPES = ("params", "metrics", "tags")
_NOUNS = {"params": ("parameter", "parameters"), "metrics": ("metric", "metrics"), "tags": ("tag", "tags")}
# More value columns than this do not fit beside a run's name at 1366 px; past it, params start hidden.
MAX_DEFAULT_COLUMNS = 10
# The runs table shows at most this many runs (ten pages), and counts matching runs up to it: past it, a
# learner is better served by the filter than by scrolling, and no request reads more runs than it shows.
MAX_ROWS = 1000
_NOTHING = Q(pk__in=[])

Clause = tuple[str | None, str, str, str]


def _label(scope: str | None, key: str) -> str:
    return f"{scope}.{key}" if scope else key


def parse_run_filter(text: str) -> list[Clause]:
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


class _Catalog:
    """The names an experiment's runs logged, per scope, with the kinds of value each holds: one query."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self._kinds: dict[str, dict[str, set[int]]] = {scope: {} for scope in ExperimentKey.Scope.values}
        for scope, name, kind in ExperimentKey.objects.filter(experiment=experiment).values_list(
            "scope", "name", "kind"
        ):
            self._kinds[scope].setdefault(name, set()).add(kind)
        self._has_runs: bool | None = None

    def names(self, scope: str) -> list[str]:
        """The params or metrics (validation only) that some run logged: the table's columns."""
        return sorted(self._kinds[scope])

    def has_runs(self) -> bool:
        if self._has_runs is None:
            self._has_runs = self.experiment.runs.exists()
        return self._has_runs

    def kinds(self, scope: str, key: str) -> set[int]:
        """The kinds of value `scope.key` holds on the runs where a filter or sort can see it; empty if none."""
        if scope == "metrics":
            return self._kinds["metrics"].get(key, set()) | self._kinds["revealed"].get(key, set())
        kinds = set(self._kinds[scope].get(key, set()))
        if scope == "params" and key == "algorithm" and self.has_runs():
            # A run that logs no `algorithm` param is filtered by its algorithm column, as MLflow users expect.
            kinds.add(ValueKind.TEXT)
        return kinds

    def known(self, scope: str) -> list[str]:
        names = set(self._kinds[scope]) | (set(self._kinds["revealed"]) if scope == "metrics" else set())
        if scope == "params" and self.has_runs():
            names.add("algorithm")
        return sorted(names)

    def sealed(self, key: str) -> bool:
        return key in self._kinds["test"]


def _check_clause(catalog: _Catalog, scope: str | None, key: str, operator: str, wanted: str) -> None:
    """Refuse a condition that cannot match: an unknown name, or a comparison its values do not allow."""
    label = _label(scope, key)
    if scope is None:
        kinds = {ValueKind.NUMBER} if key == "seed" else {ValueKind.TEXT}
    else:
        kinds = catalog.kinds(scope, key)
        if not kinds:
            if scope == "metrics" and catalog.sealed(key):
                raise FilterError(f"{key} is sealed until you reveal a run's test score; filter on validation metrics.")
            one, many = _NOUNS[scope]
            names = catalog.known(scope)
            listing = f"the {many} are {', '.join(names)}" if names else f"no run has any {many} yet"
            raise FilterError(f"No run in this experiment has a {one} called {key!r}; {listing}.")
    if ValueKind.TEXT in kinds and operator not in ("=", "!="):
        raise FilterError(f"{label} is text, so it can only be compared with = or !=, not {operator}.")
    if ValueKind.OTHER in kinds:
        raise FilterError(f"{label} holds neither text nor a number, so it cannot be filtered on.")
    if ValueKind.NUMBER in kinds and as_number(wanted) is None:
        raise FilterError(f"{label} is a number, so compare it with a number, not {wanted!r}.")


def _compare(field: str, operator: str, wanted: object) -> Q:
    """`field operator wanted` as a condition; text holding a NUL, which no column holds, equals nothing."""
    if isinstance(wanted, str) and "\x00" in wanted:
        return ~_NOTHING if operator == "!=" else _NOTHING
    if operator == "=":
        return Q(**{field: wanted})
    if operator == "!=":
        return ~Q(**{field: wanted})
    return Q(**{f"{field}__{_LOOKUPS[operator]}": wanted})


def _clause_condition(catalog: _Catalog, clause: Clause, run: str) -> Q:
    """The condition on a run (`run` is "" on Run, "run__" on RunValue) that one checked clause asks for."""
    scope, key, operator, wanted = clause
    if scope is None and key != "seed":
        return _compare(f"{run}{key}", operator, wanted)
    # The seed is compared as its indexed value: the integer column would round 5.5 to 5 and refuse infinity.
    kinds = {ValueKind.NUMBER} if scope is None else catalog.kinds(scope, key)
    branches = Q()
    if ValueKind.NUMBER in kinds:
        branches |= Q(kind=ValueKind.NUMBER) & _compare("number", operator, float(wanted))
    if ValueKind.TEXT in kinds:
        # A text value stays text even when it reads as a number: "5" and 5.0 are not the same param.
        branches |= Q(kind=ValueKind.TEXT) & _compare("text", operator, wanted[:TEXT_LENGTH])
    values = RunValue.objects.filter(
        run_id=OuterRef("run_id" if run else "pk"), scope=scope or RunValue.Scope.ATTRIBUTES, key=key
    )
    return Q(Exists(values.filter(branches)))


def _conditions(catalog: _Catalog, clauses: list[Clause], run: str) -> Q:
    condition = Q()
    for clause in clauses:
        condition &= _clause_condition(catalog, clause, run)
    return condition


def _value_scope(catalog: _Catalog, scope: str | None, key: str) -> tuple[str, str] | None:
    """Where the values a sort orders by are indexed, or None when no run has any."""
    if scope is None:
        return (RunValue.Scope.ATTRIBUTES, key) if key in _INDEXED_ATTRIBUTES else None
    if len(key) > KEY_LENGTH or not catalog.kinds(scope, key):
        return None
    return scope, key


_TABLE_DEFERRED = ("charts", "environment", "note", "rows", "preparation", "split", "error")


def _in_order(ids: list[int]) -> list[Run]:
    found = Run.objects.defer(*_TABLE_DEFERRED).order_by().in_bulk(ids)
    return [found[pk] for pk in ids]


def _sorted_ids(
    experiment: Experiment, catalog: _Catalog, order: tuple[str | None, str, bool], clauses: list[Clause], limit: int
) -> list[int]:
    """The first `limit` matching runs' ids in the sort's order: runs holding a value by it (numbers, then
    text; the other way round descending), ties newest first, then the runs without one, newest first."""
    scope, key, descending = order
    matching = experiment.runs.filter(_conditions(catalog, clauses, ""))
    if scope is None and key == "status":
        ids: list[int] = []
        for status in sorted(Run.Status.values, reverse=descending):
            more = matching.filter(status=status).order_by("-created_at", "-pk").values_list("pk", flat=True)
            ids += more[: limit - len(ids)]
            if len(ids) >= limit:
                break
        return ids
    ids = []
    source = _value_scope(catalog, scope, key)
    if source is not None:
        by = ("-rank", "-number", "-text") if descending else ("rank", "number", "text")
        values = RunValue.objects.filter(experiment=experiment, scope=source[0], key=source[1])
        values = values.filter(_conditions(catalog, clauses, "run__")).order_by(*by, "-run_created_at", "-run_id")
        ids = list(values.values_list("run_id", flat=True)[:limit])
        if len(ids) >= limit or source[0] == RunValue.Scope.ATTRIBUTES:
            return ids
    lacking = matching
    if source is not None:
        held = RunValue.objects.filter(run_id=OuterRef("pk"), scope=source[0], key=source[1])
        lacking = lacking.exclude(Exists(held))
    return ids + list(lacking.order_by("-created_at", "-pk").values_list("pk", flat=True)[: limit - len(ids)])


class RunsTable(NamedTuple):
    runs: list[Run]
    """The first runs (up to the limit asked for) that pass the filter, in the asked order."""
    param_names: list[str]
    """Every param that some run of the experiment logged, filtered out or not, so the columns stay put."""
    metric_names: list[str]
    total: int = 0
    """How many runs pass the filter, counted up to MAX_ROWS + 1: more than MAX_ROWS is not counted on."""


def runs_table(*, experiment: Experiment, sort: str = "", filter_text: str = "", limit: int = MAX_ROWS) -> RunsTable:
    """The experiment's first `limit` runs, filtered and sorted in the database, with the param and metric names
    its columns can show; a fixed number of queries, each bounded by what is shown, however many runs there are.

    A filter naming a param, metric or tag that no run of the experiment has is refused with the names
    there are, instead of quietly matching nothing; so is a comparison its values do not allow.
    """
    clauses = parse_run_filter(filter_text)
    order = parse_run_sort(sort) if sort else None
    limit = max(1, min(limit, MAX_ROWS))
    catalog = _Catalog(experiment)
    for clause in clauses:
        _check_clause(catalog, *clause)
    matching = experiment.runs.filter(_conditions(catalog, clauses, ""))
    if order is None:
        runs = list(matching.defer(*_TABLE_DEFERRED).order_by("-created_at", "-pk")[: limit + 1])
    else:
        runs = _in_order(_sorted_ids(experiment, catalog, order, clauses, limit + 1))
    total = len(runs)
    if total > limit:
        total = matching.values("pk")[: MAX_ROWS + 1].count()
    return RunsTable(runs[:limit], catalog.names("params"), catalog.names("metrics"), total)


def runs_active(*, experiment: Experiment) -> bool:
    """Whether a run of the experiment is queued or running (the table polls until none is)."""
    return experiment.runs.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).exists()


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
