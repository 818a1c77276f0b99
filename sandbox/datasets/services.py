"""Use cases for datasets and their content-addressed versions."""

from __future__ import annotations

import io

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from lessons.attempts import progress_refresh
from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused
from sandbox.datasets import selectors
from sandbox.datasets.models import Dataset, DatasetVersion
from sandbox.ml import catalog

# pandas loads with the first dataset this process reads or writes.
pd = lazy_module("pandas")
ml = lazy_module("sandbox.ml.datasets")


class DatasetRefused(Refused):
    """Nothing was saved; the message says why."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message, status=status)


def _normalise(frame: pd.DataFrame) -> tuple[pd.DataFrame, bytes]:
    """The frame as it will be read back from storage, and the bytes stored."""
    raw = frame.to_csv(index=False, float_format="%.17g").encode()
    return pd.read_csv(io.BytesIO(raw)), raw


def version_add(*, dataset: Dataset, frame: pd.DataFrame, settings: dict | None = None) -> tuple[DatasetVersion, bool]:
    """Store `frame` as a new version unless the same content is already one; return (version, created)."""
    if dataset.target not in frame.columns:
        raise DatasetRefused(f"The target column {dataset.target!r} is not in this data.")
    frame, raw = _normalise(frame)
    digest = ml.content_hash(frame)
    existing = dataset.versions.filter(content_hash=digest).first()
    if existing:
        return existing, False
    with transaction.atomic():
        number = (dataset.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        try:
            version = DatasetVersion.objects.create(
                dataset=dataset,
                number=number,
                content_hash=digest,
                rows=len(frame),
                columns=frame.shape[1],
                schema=ml.schema(frame),
                settings=settings or {},
                file="",
            )
        except IntegrityError:
            raise DatasetRefused("Another version was being saved at the same moment; try again.", status=409) from None
        # The path is keyed by the row's id: the app chooses it, never the uploaded file's name.
        version.file = default_storage.save(f"datasets/{dataset.owner_id}/{version.pk}.csv", ContentFile(raw))
        version.save(update_fields=["file"])
        # Profiled now, from the rows in hand: the profile page never reads them back.
        selectors.profile_compute(version=version, frame=frame)
        transaction.on_commit(lambda: progress_refresh(user=dataset.owner))
    return version, True


def dataset_create_builtin(*, owner: User, name: str) -> Dataset:
    if name not in catalog.BUILTIN:
        raise DatasetRefused(f"There is no built-in dataset called {name!r}.")
    with transaction.atomic():
        dataset = Dataset.objects.create(
            owner=owner, name=name.replace("_", " "), source=Dataset.Source.BUILTIN, builtin=name,
            task=catalog.BUILTIN[name][1], target=catalog.TARGET,
        )  # fmt: skip
        version_add(dataset=dataset, frame=ml.load_builtin(name))
    return dataset


def dataset_create_churn(*, owner: User, name: str, settings: dict) -> Dataset:
    with transaction.atomic():
        dataset = Dataset.objects.create(
            owner=owner, name=name, source=Dataset.Source.CHURN, task=catalog.CLASSIFICATION, target="churned"
        )
        version_add(dataset=dataset, frame=ml.make_churn(**settings), settings=settings)
    return dataset


def _check_versionable(dataset: Dataset, source: str) -> None:
    if dataset.source == Dataset.Source.BUILTIN:
        raise DatasetRefused("A built-in dataset has one version: its content never changes.", status=409)
    if dataset.source != source:
        raise DatasetRefused(f"This dataset's versions come from {dataset.get_source_display().lower()}s.")


def churn_version_add(*, dataset: Dataset, settings: dict) -> tuple[DatasetVersion, bool]:
    _check_versionable(dataset, Dataset.Source.CHURN)
    return version_add(dataset=dataset, frame=ml.make_churn(**settings), settings=settings)


def _task_for(frame: pd.DataFrame, target: str) -> str:
    column = frame[target]
    if pd.api.types.is_numeric_dtype(column) and column.nunique() > 20:
        return catalog.REGRESSION
    return catalog.CLASSIFICATION


def dataset_create_upload(*, owner: User, name: str, raw: bytes, target: str) -> Dataset:
    """A dataset from an uploaded CSV, whose problems are reported as DatasetRefused."""
    try:
        frame = ml.parse_csv(raw)
    except ml.CsvProblem as exc:
        raise DatasetRefused(str(exc)) from None
    if target not in frame.columns:
        listed = ", ".join(repr(c) for c in list(frame.columns)[:12])
        raise DatasetRefused(f"There is no column {target!r}; the columns are {listed}.")
    if frame[target].isna().any():
        raise DatasetRefused(
            f"The target column {target!r} has missing values in {int(frame[target].isna().sum())} rows."
        )
    if frame[target].nunique() < 2:
        raise DatasetRefused(f"The target column {target!r} has only one value; there is nothing to learn.")
    with transaction.atomic():
        dataset = Dataset.objects.create(
            owner=owner, name=name, source=Dataset.Source.UPLOAD, task=_task_for(frame, target), target=target
        )
        version_add(dataset=dataset, frame=frame)
    return dataset


def upload_version_add(*, dataset: Dataset, raw: bytes) -> tuple[DatasetVersion, bool]:
    _check_versionable(dataset, Dataset.Source.UPLOAD)
    try:
        frame = ml.parse_csv(raw)
    except ml.CsvProblem as exc:
        raise DatasetRefused(str(exc)) from None
    return version_add(dataset=dataset, frame=frame)
