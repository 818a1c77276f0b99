"""Reads of datasets and their versions, always scoped to their owner."""

from __future__ import annotations

import json
from dataclasses import asdict

from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from mlopslab.lazy import lazy_module
from sandbox.datasets.models import Dataset, DatasetVersion
from sandbox.ml import catalog
from sandbox.ml.profiles import ColumnProfile

# pandas loads with the first dataset this process reads.
pd = lazy_module("pandas")
ml = lazy_module("sandbox.ml.datasets")


def dataset_get_owned(*, owner: User, dataset_id: int) -> Dataset:
    """The learner's own dataset, or 404: another learner's id looks like no dataset at all."""
    return get_object_or_404(Dataset, pk=dataset_id, owner=owner)


def datasets_owned(*, owner: User) -> QuerySet[Dataset]:
    return Dataset.objects.filter(owner=owner).prefetch_related("versions")


SHOWN_RUNS = 10
"""The dataset page names this many of the runs trained on each version, newest first, and counts the rest."""


def dataset_versions(*, dataset: Dataset) -> list[DatasetVersion]:
    """Newest first, each with its run count and its newest runs (its lineage) as `recent_runs`.

    Only the runs' names are read: a run's charts and metrics can be large, and a version can have
    thousands of runs, so the page's cost is bounded by what it shows.
    """
    # The Run model through the relation: sandbox.datasets does not import sandbox.tracking, which sits above it.
    runs = DatasetVersion._meta.get_field("runs").related_model
    recent = runs.objects.only("pk", "name", "dataset_version_id").order_by("-created_at", "-pk")[:SHOWN_RUNS]
    versions = list(
        dataset.versions.annotate(run_count=Count("runs")).prefetch_related(
            Prefetch("runs", queryset=recent, to_attr="recent_runs")
        )
    )
    for version in versions:
        version.more_runs = version.run_count - len(version.recent_runs)
    return versions


def version_get(*, dataset: Dataset, number: int) -> DatasetVersion:
    return get_object_or_404(dataset.versions, number=number)


def version_frame(version: DatasetVersion) -> pd.DataFrame:
    """The version's content, read back from the file the app stored."""
    with default_storage.open(version.file, "rb") as handle:
        return pd.read_csv(handle)


PROFILE_FORMAT = 2
"""Bumped whenever ColumnProfile or the binning changes, so that no profile is read in an older shape."""


def _profile_path(version: DatasetVersion) -> str:
    """Beside the version's CSV: datasets/<owner>/<id>.profile-<format>.json."""
    return f"{version.file.rsplit('.', 1)[0]}.profile-{PROFILE_FORMAT}.json"


def _profile_key(version: DatasetVersion) -> str:
    return f"dataset-profile:{PROFILE_FORMAT}:{version.pk}:{version.content_hash}"


def profile_compute(*, version: DatasetVersion, frame: pd.DataFrame) -> dict:
    """The version's profile as plain data, stored beside its CSV and cached.

    A version never changes (its content is its hash), so its profile is computed once, when it is
    saved, however often its page is shown.
    """
    dataset = version.dataset
    balance = ml.class_balance(frame, dataset.target) if dataset.task == catalog.CLASSIFICATION else []
    data = {"columns": [asdict(column) for column in ml.profile(frame)], "balance": balance}
    path = _profile_path(version)
    if not default_storage.exists(path):
        saved = default_storage.save(path, ContentFile(json.dumps(data).encode()))
        if saved != path:  # another request stored it at the same moment: keep theirs
            default_storage.delete(saved)
    cache.set(_profile_key(version), data, timeout=3600)
    return data


def _profile_data(version: DatasetVersion) -> dict:
    data = cache.get(_profile_key(version))
    if data is not None:
        return data
    try:
        with default_storage.open(_profile_path(version), "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        # Not stored yet (a version saved before profiles were), or still being written by another request.
        return profile_compute(version=version, frame=version_frame(version))
    cache.set(_profile_key(version), data, timeout=3600)
    return data


def version_profile(*, version: DatasetVersion) -> tuple[list[ColumnProfile], list[tuple[str, int]]]:
    """Per-column statistics and bins and, for a classification set, the target's class balance.

    Read from the profile stored when the version was saved: the page never reads the rows.
    """
    data = _profile_data(version)
    columns = [ColumnProfile(**column) for column in data["columns"]]
    return columns, [tuple(pair) for pair in data["balance"]]


def version_class_count(*, version: DatasetVersion) -> int:
    """How many classes the target of a classification version has (from its stored profile), 0 for regression."""
    if version.dataset.task != catalog.CLASSIFICATION:
        return 0
    target = version.dataset.target
    for column in _profile_data(version)["columns"]:
        if column["name"] == target:
            return max(2, int(column["unique"]))
    return 2
