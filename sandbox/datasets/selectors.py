"""Reads of datasets and their versions, always scoped to their owner."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from mlopslab.lazy import lazy_module
from sandbox.datasets.models import Dataset, DatasetVersion
from sandbox.ml import catalog

# pandas loads with the first dataset this process reads.
pd = lazy_module("pandas")
ml = lazy_module("sandbox.ml.datasets")


def dataset_get_owned(*, owner: User, dataset_id: int) -> Dataset:
    """The learner's own dataset, or 404: another learner's id looks like no dataset at all."""
    return get_object_or_404(Dataset, pk=dataset_id, owner=owner)


def datasets_owned(*, owner: User) -> QuerySet[Dataset]:
    return Dataset.objects.filter(owner=owner).prefetch_related("versions")


def dataset_versions(*, dataset: Dataset) -> list[DatasetVersion]:
    """Newest first, each with the runs trained on it (its lineage)."""
    return list(dataset.versions.prefetch_related("runs__experiment"))


def version_get(*, dataset: Dataset, number: int) -> DatasetVersion:
    return get_object_or_404(dataset.versions, number=number)


def version_frame(version: DatasetVersion) -> pd.DataFrame:
    """The version's content, read back from the file the app stored."""
    with default_storage.open(version.file, "rb") as handle:
        return pd.read_csv(handle)


def version_profile(*, version: DatasetVersion) -> tuple[pd.DataFrame, list[ml.ColumnProfile], list[tuple[str, int]]]:
    """The frame, per-column statistics and, for a classification set, the target's class balance."""
    dataset = version.dataset
    frame = version_frame(version)
    balance = ml.class_balance(frame, dataset.target) if dataset.task == catalog.CLASSIFICATION else []
    return frame, ml.profile(frame), balance
