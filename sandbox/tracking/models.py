import hashlib
import json
import math
from collections.abc import Iterable

from django.conf import settings
from django.db import models, transaction

from sandbox.datasets.models import Dataset, DatasetVersion
from sandbox.jobs.models import Job


class Experiment(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=100)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="experiments")
    compared_run_ids = models.JSONField(default=list, blank=True, help_text="The runs last compared side by side.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def trains(self) -> bool:
        """Whether its runs train scikit-learn models; a course corpus's runs evaluate a RAG configuration
        (sandbox.llmops) instead, so they have no model file, test split or replay."""
        return self.dataset.source != Dataset.Source.CORPUS


class Run(models.Model):
    """One training run, tracked as MLflow tracks one: params, metrics, tags, artifacts and lineage."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs")
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.RESTRICT, related_name="runs")
    replay_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replays")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    algorithm = models.CharField(max_length=40)
    params = models.JSONField(default=dict)
    preparation = models.JSONField(default=dict)
    split = models.JSONField(default=dict)
    seed = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict, blank=True)
    test_metrics = models.JSONField(default=dict, blank=True, help_text="Sealed until the learner reveals them.")
    test_revealed_at = models.DateTimeField(null=True, blank=True)
    charts = models.JSONField(default=dict, blank=True)
    rows = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    environment = models.JSONField(default=dict, blank=True, help_text="Python and library versions, code version.")
    model_file = models.CharField(max_length=200, blank=True, help_text="Storage path of the fitted pipeline.")
    model_sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the model file as the worker wrote it; checked before loading."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Derived on save from what a run cannot change, so that challenge checks are indexed look-ups.
    config_key = models.CharField(
        max_length=64, blank=True, editable=False, help_text="Fingerprint of the algorithm and its parameters."
    )
    full_preparation = models.BooleanField(
        default=False, editable=False, help_text="Imputes missing values and scales numbers."
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The runs table, newest first; each status newest first (a sort by status, a poll's "any active").
            models.Index(fields=["experiment", "-created_at", "-id"], name="run_newest"),
            models.Index(fields=["experiment", "status", "-created_at", "-id"], name="run_status_newest"),
            # Challenge checks: distinct configurations, the one look at the test split, pipelines, replays.
            models.Index(fields=["experiment", "status", "config_key"], name="run_configurations"),
            models.Index(fields=["experiment", "status", "test_revealed_at"], name="run_revealed"),
            models.Index(fields=["dataset_version", "status", "full_preparation"], name="run_preparation"),
            models.Index(fields=["owner", "replay_of"], name="run_replays"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.algorithm})"

    def save(self, *args: object, **kwargs: object) -> None:
        # Logged params are immutable, as in MLflow: a run's configuration is its identity.
        if self.pk is not None:
            stored = Run.objects.filter(pk=self.pk).values("params", "algorithm", "seed").first()
            if stored and (stored["params"], stored["algorithm"], stored["seed"]) != (
                self.params,
                self.algorithm,
                self.seed,
            ):
                raise ValueError("A run's parameters cannot change once logged; start a new run instead.")
        self.config_key = config_key(self.algorithm, self.params)
        self.full_preparation = prepares_fully(self.preparation)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            update_fields = set(update_fields)
            if update_fields & {"algorithm", "params", "preparation"}:
                update_fields |= {"config_key", "full_preparation"}
            kwargs["update_fields"] = update_fields
        with transaction.atomic():
            super().save(*args, **kwargs)
            groups = [
                group
                for group, fields in INDEXED_FIELDS.items()
                if update_fields is None or update_fields & set(fields)
            ]
            if groups:
                runs_reindex(run_ids=[self.pk], groups=groups)


def config_key(algorithm: str, params: dict) -> str:
    """The run's configuration as a fingerprint: equal for runs whose algorithm and parameters are equal
    (1 and 1.0 differ, as True and 1 do; key order does not count)."""
    text = json.dumps([algorithm, params], sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def prepares_fully(preparation: dict) -> bool:
    """Whether the preparation imputes missing values and scales the numeric columns."""
    return preparation.get("impute") != "none" and bool(preparation.get("scale"))


class ValueKind(models.IntegerChoices):
    """How a filter may compare a value: a number with a number, text with = or != only, other not at all."""

    NUMBER = 0, "number"
    TEXT = 1, "text"
    OTHER = 2, "other"


# A value's text is kept to this length: enough for any tag (200) or parameter the forms let through.
TEXT_LENGTH = 255
# Longer names than this (tags are 50 at most) are not indexed, so no filter or sort reaches them.
KEY_LENGTH = 100


class RunValue(models.Model):
    """One param, visible metric, tag or attribute (name, algorithm, seed) of a run, typed and indexed, so that
    the runs table filters, sorts and pages in the database however many runs the experiment has.

    `rank` and `number`, then `text` (the value as Python's str() writes it), order values as the table sorts
    them: whatever reads as a number by that number, then the rest as text, ties newest first.
    """

    class Scope(models.TextChoices):
        PARAMS = "params"
        METRICS = "metrics", "metrics (validation, and test once revealed)"
        TAGS = "tags"
        ATTRIBUTES = "attributes"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="indexed_values")
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=10, choices=Scope.choices)
    key = models.CharField(max_length=KEY_LENGTH)
    kind = models.PositiveSmallIntegerField(choices=ValueKind.choices)
    rank = models.PositiveSmallIntegerField(help_text="0 when the value reads as a number, 1 otherwise.")
    number = models.FloatField(null=True)
    text = models.CharField(max_length=TEXT_LENGTH)
    run_created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "scope", "key"], name="run_value_once")]
        indexes = [
            models.Index(
                fields=["experiment", "scope", "key", "rank", "number", "text", "-run_created_at", "-run"],
                name="run_value_ascending",
            ),
            models.Index(
                fields=["experiment", "scope", "key", "-rank", "-number", "-text", "-run_created_at", "-run"],
                name="run_value_descending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}.{self.key} = {self.text}"


class ExperimentKey(models.Model):
    """A name that some run of the experiment logged, with a kind of value it holds there: the catalog the
    runs table reads its columns and a filter's known names from, without reading the runs."""

    class Scope(models.TextChoices):
        PARAMS = "params"
        METRICS = "metrics"
        TEST = "test", "test metrics, sealed or revealed"
        REVEALED = "revealed", "test metrics revealed on some run"
        TAGS = "tags"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="keys")
    scope = models.CharField(max_length=10, choices=Scope.choices)
    name = models.CharField(max_length=KEY_LENGTH)
    kind = models.PositiveSmallIntegerField(choices=ValueKind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "scope", "name", "kind"], name="experiment_key_once")
        ]

    def __str__(self) -> str:
        return f"{self.scope}.{self.name} ({self.get_kind_display()})"


# What each group of a run's indexed values is made from; a write to one of these fields re-indexes its group.
INDEXED_FIELDS = {
    "params": ("params", "name", "algorithm", "seed"),
    "metrics": ("metrics", "test_metrics", "test_revealed_at"),
    "tags": ("tags",),
}
_VALUE_SCOPES = {
    "params": (RunValue.Scope.PARAMS, RunValue.Scope.ATTRIBUTES),
    "metrics": (RunValue.Scope.METRICS,),
    "tags": (RunValue.Scope.TAGS,),
}
_KEY_SCOPES = {
    "params": (ExperimentKey.Scope.PARAMS,),
    "metrics": (ExperimentKey.Scope.METRICS, ExperimentKey.Scope.TEST, ExperimentKey.Scope.REVEALED),
    "tags": (ExperimentKey.Scope.TAGS,),
}


def as_number(value: object) -> float | None:
    """The value as the runs table sorts it by number: a number, or text that reads as one; never a bool."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if math.isnan(number) else number


def typed(value: object) -> tuple[int, int, float | None, str] | None:
    """(kind, rank, number, text) of a logged value, or None for a JSON null, which counts as not logged."""
    if value is None:
        return None
    if isinstance(value, bool | str):
        kind = ValueKind.TEXT
    elif isinstance(value, int | float):
        kind = ValueKind.NUMBER
    else:
        kind = ValueKind.OTHER
    number = as_number(value)
    return kind, 0 if number is not None else 1, number, str(value)[:TEXT_LENGTH]


def _sources(row: dict, group: str) -> list[tuple[str, dict]]:
    """The (value scope, values) of one group of a run, as the table reads them."""
    if group == "params":
        params = row["params"]
        # MLflow users log the algorithm as a param; the Lab keeps it in a column of its own.
        fallback = {} if "algorithm" in params else {"algorithm": row["algorithm"]}
        attributes = {"name": row["name"], "algorithm": row["algorithm"], "seed": row["seed"]}
        return [(RunValue.Scope.PARAMS, {**params, **fallback}), (RunValue.Scope.ATTRIBUTES, attributes)]
    if group == "metrics":
        visible = {**row["metrics"], **(row["test_metrics"] if row["test_revealed_at"] else {})}
        return [(RunValue.Scope.METRICS, visible)]
    return [(RunValue.Scope.TAGS, row["tags"])]


def _catalog(row: dict, group: str) -> list[tuple[str, dict]]:
    """The (catalog scope, values) of one group of a run."""
    if group == "params":
        return [(ExperimentKey.Scope.PARAMS, row["params"])]
    if group == "metrics":
        revealed = row["test_metrics"] if row["test_revealed_at"] else {}
        return [
            (ExperimentKey.Scope.METRICS, row["metrics"]),
            (ExperimentKey.Scope.TEST, row["test_metrics"]),
            (ExperimentKey.Scope.REVEALED, revealed),
        ]
    return [(ExperimentKey.Scope.TAGS, row["tags"])]


def runs_reindex(
    *,
    experiment: Experiment | None = None,
    run_ids: Iterable[int] | None = None,
    groups: Iterable[str] = tuple(INDEXED_FIELDS),
    chunk: int = 2000,
) -> None:
    """Write the typed values of the runs (those of `experiment`, or `run_ids`) and their experiments' catalog
    from the runs' rows as stored now; also the fields save() derives, for runs that bulk_create wrote.

    Call it after any write to a run's params, metrics, test metrics, reveal or tags that bypasses save().
    """
    groups = list(groups)
    runs = Run.objects.all()
    if experiment is not None:
        runs = runs.filter(experiment=experiment)
    if run_ids is not None:
        runs = runs.filter(pk__in=list(run_ids))
    ids = list(runs.order_by("pk").values_list("pk", flat=True))
    value_scopes = [scope for group in groups for scope in _VALUE_SCOPES[group]]
    fields = {field for group in groups for field in INDEXED_FIELDS[group]} | {"algorithm"}
    if "params" in groups:
        fields |= {"preparation", "config_key", "full_preparation"}
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        rows = list(Run.objects.filter(pk__in=part).values("pk", "experiment_id", "created_at", *sorted(fields)))
        values, keys, derived = [], set(), []
        for row in rows:
            for group in groups:
                for scope, logged in _sources(row, group):
                    for key, value in logged.items():
                        kind_rank = typed(value)
                        if kind_rank is not None and len(key) <= KEY_LENGTH:
                            kind, rank, number, text = kind_rank
                            values.append(
                                RunValue(
                                    run_id=row["pk"], experiment_id=row["experiment_id"], scope=scope, key=key,
                                    kind=kind, rank=rank, number=number, text=text, run_created_at=row["created_at"],
                                )
                            )  # fmt: skip
                for scope, logged in _catalog(row, group):
                    for key, value in logged.items():
                        kind_rank = typed(value)
                        if kind_rank is not None and len(key) <= KEY_LENGTH:
                            keys.add((row["experiment_id"], scope, key, kind_rank[0]))
            if "params" in groups:
                wanted = (config_key(row["algorithm"], row["params"]), prepares_fully(row["preparation"]))
                if wanted != (row["config_key"], row["full_preparation"]):
                    derived.append(Run(pk=row["pk"], config_key=wanted[0], full_preparation=wanted[1]))
        with transaction.atomic():
            RunValue.objects.filter(run_id__in=part, scope__in=value_scopes).delete()
            RunValue.objects.bulk_create(values, batch_size=500)
            ExperimentKey.objects.bulk_create(
                [ExperimentKey(experiment_id=e, scope=s, name=n, kind=k) for e, s, n, k in sorted(keys)],
                batch_size=500,
                ignore_conflicts=True,
            )
            if derived:
                Run.objects.bulk_update(derived, ["config_key", "full_preparation"], batch_size=500)
