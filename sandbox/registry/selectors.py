"""Reads of the registry, always scoped to the learner who owns the models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from sandbox.registry.models import AliasEvent, ModelAlias, ModelVersion, RegisteredModel, Validation

# The model page shows this many of the newest timeline events; the as-of question reads all of them.
TIMELINE_SHOWN = 100


def registered_model_get_owned(*, owner: User, model_id: int) -> RegisteredModel:
    """The learner's own model, or 404: another learner's id looks like no model at all."""
    return get_object_or_404(RegisteredModel.objects.select_related("owner"), pk=model_id, owner=owner)


def registered_models_owned(*, owner: User) -> QuerySet[RegisteredModel]:
    """The learner's models with their version counts and aliases."""
    aliases = ModelAlias.objects.select_related("version").order_by("alias")
    return (
        RegisteredModel.objects.filter(owner=owner)
        .annotate(version_count=Count("versions"))
        .prefetch_related(Prefetch("aliases", queryset=aliases))
    )


def model_version_get_owned(*, owner: User, model_id: int, number: int) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.select_related(
            "registered_model", "run__experiment", "dataset_version__dataset", "run__dataset_version"
        ),
        registered_model_id=model_id,
        registered_model__owner=owner,
        number=number,
    )


def model_versions(*, registered_model: RegisteredModel) -> list[ModelVersion]:
    """Newest first, each with the aliases it carries (`alias_names`)."""
    versions = list(
        registered_model.versions.select_related("run").prefetch_related(
            Prefetch("aliases", queryset=ModelAlias.objects.order_by("alias"))
        )
    )
    for version in versions:
        version.alias_names = [alias.alias for alias in version.aliases.all()]
    return versions


def model_aliases(*, registered_model: RegisteredModel) -> list[ModelAlias]:
    return list(registered_model.aliases.select_related("version").order_by("alias"))


def alias_timeline(*, registered_model: RegisteredModel, limit: int = TIMELINE_SHOWN) -> list[AliasEvent]:
    """The newest alias events first: who moved which alias from which version to which, why, and the gate."""
    return list(
        registered_model.alias_events.select_related("from_version", "to_version", "actor", "validation").order_by(
            "-at", "-pk"
        )[:limit]
    )


@dataclass(frozen=True)
class AliasAsOf:
    alias: str
    when: datetime
    version: ModelVersion | None
    """The version the alias pointed at then; None when it did not exist (yet, or any more)."""
    event: AliasEvent | None
    """The last move at or before `when`; None when the alias had not been set by then."""
    first_set_at: datetime | None
    """When the alias was first set, if ever (for "it did not exist yet")."""


def alias_as_of(*, registered_model: RegisteredModel, alias: str, when: datetime) -> AliasAsOf:
    """Which version `alias` pointed at on `when`, from the audit events: the newest event of that alias at or
    before the moment (one seek on the `alias_event_as_of` index); a move at exactly `when` counts as made."""
    events = AliasEvent.objects.filter(registered_model=registered_model, alias=alias)
    event = events.filter(at__lte=when).select_related("to_version").order_by("-at", "-id").first()
    first = None
    if event is None:
        first = events.order_by("at", "id").values_list("at", flat=True).first()
    version = event.to_version if event is not None and event.action != AliasEvent.Action.DELETE else None
    return AliasAsOf(alias=alias, when=when, version=version, event=event, first_set_at=first)


def alias_names_ever(*, registered_model: RegisteredModel) -> list[str]:
    """Every alias the model has had, for the as-of form's choices."""
    return sorted(set(registered_model.alias_events.values_list("alias", flat=True)))


def version_validations(*, version: ModelVersion) -> list[Validation]:
    return list(version.validations.select_related("job", "champion").order_by("-created_at", "-pk"))


def validation_latest(*, version: ModelVersion) -> Validation | None:
    return version.validations.select_related("job", "champion").order_by("-created_at", "-pk").first()


def run_versions(*, run_id: int) -> QuerySet[ModelVersion]:
    """The versions a run became, for its page."""
    return ModelVersion.objects.filter(run_id=run_id).select_related("registered_model")
