"""Use cases of the model registry: register versions, describe and tag, move aliases (every move an audit
event, in the same transaction), and promote through the validation gate.

Names and rules follow MLflow's registry (`mlflow/utils/validation.py`): aliases are letters, digits, `_` and
`-`, at most 255 characters, never `latest` nor `v<number>`; tag keys are letters, digits, `_`, `-`, `.`, space
and `/`, at most 250 characters, and must not change when read as a path; tag values at most 5,000 characters.
"""

from __future__ import annotations

import posixpath
import random
import re

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from lessons.rendering import render_markdown
from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused
from sandbox.datasets.models import DatasetVersion
from sandbox.datasets.selectors import version_frame
from sandbox.jobs.registry import ProgressCallback
from sandbox.jobs.services import job_create_or_refuse
from sandbox.registry import artifacts
from sandbox.registry.models import AliasEvent, ModelAlias, ModelVersion, RegisteredModel, Validation
from sandbox.tracking.models import Run

# scikit-learn and pandas load with the first gate this process runs, on a worker.
gate = lazy_module("sandbox.registry.gate")
scoring = lazy_module("sandbox.ml.scoring")

# The kind of job the gate runs as (sandbox.registry.runners).
GATE = "registry_gate"
# Aliases that move only through the validation gate (or a rollback with a reason).
GATED_ALIASES = ("champion",)

MAX_NAME = 100
MAX_ALIAS = 255
MAX_TAG_KEY = 250
MAX_TAG_VALUE = 5000
MAX_TAGS = 50
MAX_DESCRIPTION = 10_000
MAX_REASON = 2000
# The golden sample: at most this many rows of the model's first version's data, drawn with this seed.
GOLDEN_SIZE = 200
GOLDEN_SEED = 20231115

_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
_TAG_KEY = re.compile(r"^[/\w.\- ]*$")


class RegistryRefused(Refused):
    """Nothing was registered or moved; the message says why."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message, status=status)


# --- rules -------------------------------------------------------------------------------------------------


def model_name_check(name: str) -> str:
    name = name.strip()
    if not name:
        raise RegistryRefused("A registered model needs a name.")
    if len(name) > MAX_NAME:
        raise RegistryRefused(f"A model's name may be at most {MAX_NAME} characters.")
    if any(ord(character) < 32 for character in name):
        raise RegistryRefused("A model's name may not contain control characters.")
    return name


def alias_check(alias: str) -> str:
    """MLflow's rules for an alias name; `champion`, `challenger` and the like pass."""
    if not alias:
        raise RegistryRefused("An alias needs a name, such as champion or challenger.")
    if not _ALIAS.match(alias):
        raise RegistryRefused(
            f"Invalid alias {alias[:60]!r}: aliases may only contain letters, digits, underscores (_) and dashes (-)."
        )
    if len(alias) > MAX_ALIAS:
        raise RegistryRefused(f"An alias may be at most {MAX_ALIAS} characters.")
    if alias.lower() == "latest":
        raise RegistryRefused("The alias 'latest' (in any case) is reserved: it always means the newest version.")
    if _VERSION_ALIAS.match(alias):
        raise RegistryRefused(f"The alias {alias!r} is reserved: v<number> names a version by its number.")
    return alias


def tag_check(key: str, value: str) -> tuple[str, str]:
    """MLflow's rules for a registry tag's key and value."""
    if not key:
        raise RegistryRefused("A tag needs a key.")
    if not _TAG_KEY.match(key):
        raise RegistryRefused(
            f"Invalid tag key {key[:60]!r}: keys may only contain letters, digits, underscores (_), dashes (-), "
            "periods (.), spaces ( ) and slashes (/)."
        )
    normal = posixpath.normpath(key)
    if normal != key or normal == "." or normal.startswith("..") or normal.startswith("/"):
        raise RegistryRefused(
            f"Invalid tag key {key[:60]!r}: read as a path it would become {normal!r}; keys must not change so."
        )
    if len(key) > MAX_TAG_KEY:
        raise RegistryRefused(f"A tag key may be at most {MAX_TAG_KEY} characters.")
    if len(value) > MAX_TAG_VALUE:
        raise RegistryRefused(f"A tag value may be at most {MAX_TAG_VALUE:,} characters.")
    return key, value


def _reason_check(reason: str, *, required: bool) -> str:
    reason = reason.strip()
    if required and not reason:
        raise RegistryRefused("Write the reason; the timeline keeps it.")
    if len(reason) > MAX_REASON:
        raise RegistryRefused(f"A reason may be at most {MAX_REASON:,} characters.")
    return reason


def _description_check(text: str) -> tuple[str, str]:
    if len(text) > MAX_DESCRIPTION:
        raise RegistryRefused(f"A description may be at most {MAX_DESCRIPTION:,} characters.")
    return text, render_markdown(text).html if text.strip() else ""


def signature_of(data: DatasetVersion) -> list[dict]:
    """The input signature of a model trained on `data`, as MLflow's `infer_signature` gives it
    (`sandbox.ml.scoring.signature_from_frame`): each column but the target, in the frame's order, with its
    MLflow type and whether it may be missing, as `[{"type": "double", "name": …, "required": true}, …]`."""
    try:
        signature = scoring.signature_from_frame(version_frame(data), data.dataset.target)
    except ValueError as exc:
        raise RegistryRefused(f"This model's input signature cannot be written: {exc}", status=422) from None
    return [column.to_dict() for column in signature.inputs]


def golden_rows(row_count: int) -> list[int]:
    """The golden sample's row positions: the same seeded draw for every version of a model."""
    size = min(GOLDEN_SIZE, row_count)
    return sorted(random.Random(GOLDEN_SEED).sample(range(row_count), size))


# --- models and versions -----------------------------------------------------------------------------------


def registered_model_create(*, owner: User, name: str, description: str = "") -> RegisteredModel:
    """A new, empty named model; a name the learner already uses is a conflict (409)."""
    name = model_name_check(name)
    description, html = _description_check(description)
    try:
        with transaction.atomic():
            return RegisteredModel.objects.create(
                owner=owner, name=name, description=description, description_html=html
            )
    except IntegrityError:
        raise RegistryRefused(f"You already have a model called {name!r}.", status=409) from None


def model_version_register(
    *,
    run: Run,
    registered_model: RegisteredModel | None = None,
    model_name: str = "",
    description: str = "",
) -> ModelVersion:
    """Register a succeeded run's fitted pipeline as the next version of a model (1 for a new one).

    The model is `registered_model`, or the learner's model called `model_name`, created if there is none.
    Refuses a run that did not succeed or has no fingerprinted model file (409), and another learner's model
    (404). Concurrent registrations to one model get consecutive numbers: the model's row is locked.
    """
    if run.status != Run.Status.SUCCEEDED:
        raise RegistryRefused("Only a run that succeeded has a model to register.", status=409)
    if not run.model_file or not run.model_sha256:
        raise RegistryRefused(
            "This run has no fingerprinted model file to register; replay it to train one.", status=409
        )
    if registered_model is not None and registered_model.owner_id != run.owner_id:
        raise RegistryRefused("There is no such model of yours.", status=404)
    description, html = _description_check(description)
    owner = run.owner
    name = model_name_check(model_name) if registered_model is None else ""
    data = run.dataset_version
    # Read before the model's row is locked: it reads the data version's file.
    signature = signature_of(data)
    with transaction.atomic():
        if registered_model is None:
            registered_model, _ = RegisteredModel.objects.get_or_create(owner=owner, name=name)
        model = RegisteredModel.objects.select_for_update().get(pk=registered_model.pk)
        last = model.versions.order_by("-number").values_list("number", flat=True).first() or 0
        version = ModelVersion.objects.create(
            registered_model=model,
            owner=owner,
            number=last + 1,
            run=run,
            dataset_version=data,
            code_version=str(run.environment.get("code", ""))[:100],
            model_file=run.model_file,
            model_sha256=run.model_sha256,
            signature=signature,
            status=ModelVersion.Status.READY,
            description=description,
            description_html=html,
        )
        if model.golden_dataset_version_id is None:
            # Drawn once, from the first version's data: every later candidate is scored on these same rows.
            RegisteredModel.objects.filter(pk=model.pk).update(
                golden_dataset_version=data, golden_rows=golden_rows(data.rows), updated_at=timezone.now()
            )
    return version


def registered_model_set_description(*, registered_model: RegisteredModel, description: str) -> None:
    description, html = _description_check(description)
    RegisteredModel.objects.filter(pk=registered_model.pk).update(
        description=description, description_html=html, updated_at=timezone.now()
    )
    registered_model.description, registered_model.description_html = description, html


def model_version_set_description(*, version: ModelVersion, description: str) -> None:
    description, html = _description_check(description)
    ModelVersion.objects.filter(pk=version.pk).update(description=description, description_html=html)
    version.description, version.description_html = description, html


def _tags_with(tags: dict, key: str, value: str) -> dict:
    key, value = tag_check(key, value)
    changed = {**tags, key: value}
    if len(changed) > MAX_TAGS:
        raise RegistryRefused(f"At most {MAX_TAGS} tags; delete one first.")
    return changed


def _tags_without(tags: dict, key: str) -> dict:
    if key not in tags:
        raise RegistryRefused(f"There is no tag {key[:60]!r} to delete.", status=404)
    return {k: v for k, v in tags.items() if k != key}


def registered_model_set_tag(*, registered_model: RegisteredModel, key: str, value: str) -> None:
    """Add a tag, or change the value of the one with that key."""
    with transaction.atomic():
        model = RegisteredModel.objects.select_for_update().get(pk=registered_model.pk)
        tags = _tags_with(model.tags, key, value)
        RegisteredModel.objects.filter(pk=model.pk).update(tags=tags, updated_at=timezone.now())
    registered_model.tags = tags


def registered_model_delete_tag(*, registered_model: RegisteredModel, key: str) -> None:
    with transaction.atomic():
        model = RegisteredModel.objects.select_for_update().get(pk=registered_model.pk)
        tags = _tags_without(model.tags, key)
        RegisteredModel.objects.filter(pk=model.pk).update(tags=tags, updated_at=timezone.now())
    registered_model.tags = tags


def model_version_set_tag(*, version: ModelVersion, key: str, value: str) -> None:
    with transaction.atomic():
        row = ModelVersion.objects.select_for_update().get(pk=version.pk)
        tags = _tags_with(row.tags, key, value)
        ModelVersion.objects.filter(pk=row.pk).update(tags=tags)
    version.tags = tags


def model_version_delete_tag(*, version: ModelVersion, key: str) -> None:
    with transaction.atomic():
        row = ModelVersion.objects.select_for_update().get(pk=version.pk)
        tags = _tags_without(row.tags, key)
        ModelVersion.objects.filter(pk=row.pk).update(tags=tags)
    version.tags = tags


# --- aliases -----------------------------------------------------------------------------------------------


def _version_of(model: RegisteredModel, version: ModelVersion) -> ModelVersion:
    if version.registered_model_id != model.pk:
        raise RegistryRefused(f"That version is not a version of {model.name}.", status=404)
    if version.status != ModelVersion.Status.READY:
        raise RegistryRefused(f"Version {version.number} is not ready.", status=409)
    return version


def _gate_pending(model: RegisteredModel, alias: str) -> bool:
    return Validation.objects.filter(registered_model=model, alias=alias, status=Validation.Status.PENDING).exists()


def _alias_move(
    *,
    model: RegisteredModel,
    alias: str,
    to: ModelVersion | None,
    actor: User,
    reason: str,
    rollback: bool = False,
    gate: str = AliasEvent.Gate.NONE,
    validation: Validation | None = None,
) -> AliasEvent:
    """Point `alias` at `to` (None deletes it) and record the event; call inside a transaction that holds the
    model's row locked, so the alias and its event are written together or not at all."""
    current = ModelAlias.objects.filter(registered_model=model, alias=alias).select_related("version").first()
    now = timezone.now()
    if to is None:
        if current is None:
            raise RegistryRefused(f"{model.name} has no alias {alias!r}.", status=404)
        action = AliasEvent.Action.DELETE
        current.delete()
    else:
        if current is not None and current.version_id == to.pk:
            raise RegistryRefused(f"{alias!r} already points at version {to.number}.", status=409)
        action = (
            AliasEvent.Action.ROLLBACK
            if rollback
            else AliasEvent.Action.SET
            if current is None
            else AliasEvent.Action.MOVE
        )
        if current is None:
            ModelAlias.objects.create(registered_model=model, alias=alias, version=to, updated_at=now)
        else:
            ModelAlias.objects.filter(pk=current.pk).update(version=to, updated_at=now)
    RegisteredModel.objects.filter(pk=model.pk).update(updated_at=now)
    return AliasEvent.objects.create(
        registered_model=model,
        alias=alias,
        action=action,
        from_version=current.version if current is not None else None,
        to_version=to,
        actor=actor,
        reason=reason,
        gate=gate,
        validation=validation,
        at=now,
    )


def _locked(model: RegisteredModel) -> RegisteredModel:
    return RegisteredModel.objects.select_for_update().get(pk=model.pk)


def model_alias_set(
    *, registered_model: RegisteredModel, alias: str, version: ModelVersion, actor: User, reason: str = ""
) -> AliasEvent:
    """Point an alias at a version, creating it or moving it from the version it pointed at.

    `champion` moves only through the gate (`model_version_promote`), and no alias moves while a gate for it
    is pending (409).
    """
    alias = alias_check(alias)
    reason = _reason_check(reason, required=False)
    if alias in GATED_ALIASES:
        raise RegistryRefused(
            f"{alias!r} moves only through the validation gate: promote the version from its page.", status=409
        )
    with transaction.atomic():
        model = _locked(registered_model)
        _version_of(model, version)
        if _gate_pending(model, alias):
            raise RegistryRefused(f"A validation gate for {alias!r} is still running; wait for it.", status=409)
        return _alias_move(model=model, alias=alias, to=version, actor=actor, reason=reason)


def model_alias_delete(*, registered_model: RegisteredModel, alias: str, actor: User, reason: str = "") -> AliasEvent:
    """Remove an alias; the versions stay, and the timeline records what it pointed at."""
    reason = _reason_check(reason, required=False)
    with transaction.atomic():
        model = _locked(registered_model)
        if _gate_pending(model, alias):
            raise RegistryRefused(f"A validation gate for {alias!r} is still running; wait for it.", status=409)
        return _alias_move(model=model, alias=alias, to=None, actor=actor, reason=reason)


def model_alias_rollback(
    *, registered_model: RegisteredModel, alias: str, version: ModelVersion, actor: User, reason: str
) -> AliasEvent:
    """Point an alias back at an earlier version at once, gate or no gate, with a written reason.

    For a release gone bad (serving's one-click rollback calls this): it is not blocked by a pending gate,
    and a gate that finishes after it finds the alias moved and does not promote (`superseded`).
    """
    alias = alias_check(alias)
    reason = _reason_check(reason, required=True)
    with transaction.atomic():
        model = _locked(registered_model)
        _version_of(model, version)
        return _alias_move(model=model, alias=alias, to=version, actor=actor, reason=reason, rollback=True)


# --- the validation gate -----------------------------------------------------------------------------------


def model_version_promote(
    *,
    version: ModelVersion,
    actor: User,
    alias: str = "champion",
    tolerance: float = 0.01,
    latency_limit_ms: float = 50.0,
    reason: str = "",
) -> Validation:
    """Queue the validation gate for pointing `alias` at `version`; the alias moves when the gate passes.

    Refuses (409) a version the alias already points at and a second gate for an alias while one is pending;
    a full job queue or an unreachable one refuses as any job does (429, 503), leaving nothing behind.
    """
    alias = alias_check(alias)
    reason = _reason_check(reason, required=False)
    if not 0 <= tolerance <= 1:
        raise RegistryRefused("The tolerance is a share of the metric between 0 and 1, such as 0.01.")
    if not 0.1 <= latency_limit_ms <= 10_000:
        raise RegistryRefused("The latency limit is between 0.1 and 10,000 ms.")
    with transaction.atomic():
        model = _locked(version.registered_model)
        _version_of(model, version)
        current = ModelAlias.objects.filter(registered_model=model, alias=alias).first()
        if current is not None and current.version_id == version.pk:
            raise RegistryRefused(f"{alias!r} already points at version {version.number}.", status=409)
        if _gate_pending(model, alias):
            raise RegistryRefused(f"A validation gate for {alias!r} is still running; wait for it.", status=409)
        validation = Validation.objects.create(
            registered_model=model,
            owner=model.owner,
            version=version,
            alias=alias,
            champion_id=current.version_id if current is not None else None,
            tolerance=tolerance,
            latency_limit_ms=latency_limit_ms,
            reason=reason,
        )
        # A refused job leaves this block by its exception, taking the validation with it.
        job = job_create_or_refuse(owner=model.owner, kind=GATE, params={"validation_id": validation.pk})
        Validation.objects.filter(pk=validation.pk).update(job=job)
    validation.refresh_from_db()
    return validation


def validation_finish(*, validation_id: int, checks: list[dict]) -> Validation:
    """Record the gate's checklist and, when every check passed, move the alias (called by the worker).

    The alias moves only if it still points where it did when the gate was queued; otherwise the gate's
    verdict stands but nothing moves (`superseded`). A gate already ended (failed by its job) stays ended.
    """
    passed = bool(checks) and all(check["passed"] for check in checks)
    with transaction.atomic():
        validation = Validation.objects.select_related("version").get(pk=validation_id)
        model = _locked(validation.registered_model)
        if validation.status != Validation.Status.PENDING:
            return validation
        outcome = Validation.Outcome.BLOCKED
        if passed:
            current = ModelAlias.objects.filter(registered_model=model, alias=validation.alias).first()
            if (current.version_id if current else None) != validation.champion_id:
                outcome = Validation.Outcome.SUPERSEDED
            else:
                outcome = Validation.Outcome.MOVED
        Validation.objects.filter(pk=validation_id).update(
            status=Validation.Status.PASSED if passed else Validation.Status.FAILED,
            checks=checks,
            outcome=outcome,
            finished_at=timezone.now(),
        )
        validation.refresh_from_db()
        if outcome == Validation.Outcome.MOVED:
            _alias_move(
                model=model,
                alias=validation.alias,
                to=validation.version,
                actor=validation.owner,
                reason=validation.reason,
                gate=AliasEvent.Gate.PASSED,
                validation=validation,
            )
    return validation


def validation_override(*, validation: Validation, actor: User, reason: str) -> AliasEvent:
    """Promote despite a failed gate, with a written reason that the timeline keeps beside the failure."""
    reason = _reason_check(reason, required=True)
    with transaction.atomic():
        model = _locked(validation.registered_model)
        row = Validation.objects.select_related("version").get(pk=validation.pk)
        if row.status != Validation.Status.FAILED or row.outcome != Validation.Outcome.BLOCKED:
            raise RegistryRefused("Only a gate that failed and blocked its promotion can be overridden.", status=409)
        if _gate_pending(model, row.alias):
            raise RegistryRefused(f"A validation gate for {row.alias!r} is still running; wait for it.", status=409)
        current = ModelAlias.objects.filter(registered_model=model, alias=row.alias).first()
        if (current.version_id if current else None) != row.champion_id:
            raise RegistryRefused(
                f"{row.alias!r} has moved since this gate ran; promote again so the gate compares with it.",
                status=409,
            )
        Validation.objects.filter(pk=row.pk).update(outcome=Validation.Outcome.OVERRIDDEN, override_reason=reason)
        event = _alias_move(
            model=model,
            alias=row.alias,
            to=row.version,
            actor=actor,
            reason=reason,
            gate=AliasEvent.Gate.OVERRIDDEN,
            validation=row,
        )
    validation.refresh_from_db()
    return event


def validations_fail_with_job(job_id: int, error: str) -> None:
    """End the gate of a job that failed, so that no promotion is left pending for ever."""
    Validation.objects.filter(job_id=job_id, status=Validation.Status.PENDING).update(
        status=Validation.Status.ERROR, error=error, outcome=Validation.Outcome.BLOCKED, finished_at=timezone.now()
    )


def _check(key: str, label: str, passed: bool, detail: str) -> dict:
    return {"key": key, "label": label, "passed": passed, "detail": detail}


def _test_split_score(pipeline: object, version: ModelVersion, metric: str) -> float:
    run, dataset = version.run, version.dataset_version.dataset
    x, y = gate.test_split(
        version_frame(version.dataset_version),
        target=dataset.target,
        task=dataset.task,
        test_size=run.split["test_size"],
        seed=run.seed,
    )
    return gate.score(pipeline, gate.inputs(x, version.signature), y, dataset.task)


def _test_split_check(
    candidate: ModelVersion, pipeline: object, champion: ModelVersion | None, champion_pipeline: object,
    metric: str, tolerance: float,
) -> dict:  # fmt: skip
    label = f"Sealed test split: {metric} at least the champion's minus {tolerance:g}"
    score = _test_split_score(pipeline, candidate, metric)
    recorded = candidate.run.test_metrics.get(f"test_{metric}")
    if recorded is None or abs(score - recorded) > 1e-9:
        return _check(
            "test_split", label, False,
            "The model file does not reproduce the test score its run recorded, so it is not the model that was "
            "evaluated.",
        )  # fmt: skip
    if champion is None:
        shown = f"scores {score:.4f}" if candidate.run.test_revealed_at else "was scored (its number stays sealed)"
        return _check("test_split", label, True, f"v{candidate.number} {shown}; no champion yet to compare.")
    theirs = _test_split_score(champion_pipeline, champion, metric)
    passed = score >= theirs - tolerance
    if candidate.run.test_revealed_at and champion.run.test_revealed_at:
        detail = f"v{candidate.number} scores {score:.4f} on its test split, champion v{champion.number} {theirs:.4f}."
    else:
        detail = (
            f"v{candidate.number} and champion v{champion.number} were each scored on their run's own test split; "
            "the numbers stay sealed until you reveal them on the run pages."
        )
    return _check("test_split", label, passed, detail)


def _golden_check(
    model: RegisteredModel, candidate: ModelVersion, pipeline: object, champion: ModelVersion | None,
    champion_pipeline: object, metric: str, tolerance: float,
) -> tuple[dict, object]:  # fmt: skip
    label = f"Golden sample: {metric} at least the champion's minus {tolerance:g}, on the same rows"
    golden = model.golden_dataset_version
    frame = version_frame(golden).iloc[model.golden_rows]
    dataset = golden.dataset
    y = frame[dataset.target]
    x = gate.inputs(frame, candidate.signature)
    score = gate.score(pipeline, x, y, dataset.task)
    rows = f"{len(frame)} fixed rows of {dataset.name} v{golden.number}"
    if champion is None:
        return _check("golden", label, True, f"v{candidate.number} scores {score:.4f} on {rows}; no champion yet."), x
    theirs = gate.score(champion_pipeline, gate.inputs(frame, champion.signature), y, dataset.task)
    passed = score >= theirs - tolerance
    detail = f"v{candidate.number} scores {score:.4f}, champion v{champion.number} {theirs:.4f}, on {rows}."
    return _check("golden", label, passed, detail), x


def _schema_check(model: RegisteredModel, candidate: ModelVersion, champion: ModelVersion | None) -> dict:
    reference = champion or model.versions.filter(number=1).first()
    label = "Input schema matches the " + ("champion's" if champion else "model's first version's")
    if reference is None or reference.pk == candidate.pk:
        return _check("schema", label, True, "This is the first version: it sets the model's schema.")
    difference = gate.signature_difference(candidate.signature, reference.signature)
    if difference:
        return _check("schema", label, False, f"Against v{reference.number}: {difference}.")
    return _check(
        "schema", label, True, f"The same {len(candidate.signature)} columns and types as v{reference.number}."
    )


def validation_run(*, validation_id: int, on_progress: ProgressCallback) -> Validation:
    """Run the gate's checks for a pending validation and finish it (called by a worker).

    Every check that cannot be carried out (a file that fails its SHA-256, rows that lack a column) fails with
    the reason, so the checklist always says what stopped the promotion.
    """
    validation = Validation.objects.select_related(
        "registered_model__golden_dataset_version__dataset", "version__run", "version__dataset_version__dataset",
        "champion__run", "champion__dataset_version__dataset",
    ).get(pk=validation_id)  # fmt: skip
    if validation.status != Validation.Status.PENDING:
        return validation
    model, candidate, champion = validation.registered_model, validation.version, validation.champion
    metric = gate.primary_metric(candidate.dataset_version.dataset.task)
    tolerance = validation.tolerance
    on_progress(10, "Loading the model files and checking their SHA-256")
    try:
        pipeline = artifacts.model_load(candidate)
        champion_pipeline = artifacts.model_load(champion) if champion is not None else None
    except artifacts.ModelFileRefused as refusal:
        checks = [_check("integrity", "Model files match their SHA-256", False, refusal.message)]
        return validation_finish(validation_id=validation_id, checks=checks)
    checks = [
        _check(
            "integrity", "Model files match their SHA-256", True,
            f"v{candidate.number} {candidate.model_sha256[:12]}…"
            + (f", champion v{champion.number} {champion.model_sha256[:12]}…" if champion else ""),
        )
    ]  # fmt: skip
    on_progress(25, "Scoring the sealed test split")
    try:
        checks.append(_test_split_check(candidate, pipeline, champion, champion_pipeline, metric, tolerance))
    except Exception as exc:
        checks.append(_check("test_split", "Sealed test split", False, f"Could not be scored: {exc}."))
    on_progress(50, "Scoring the golden sample")
    row = None
    try:
        golden, x = _golden_check(model, candidate, pipeline, champion, champion_pipeline, metric, tolerance)
        checks.append(golden)
        row = x.iloc[[0]]
    except Exception as exc:
        checks.append(_check("golden", "Golden sample", False, f"Could not be scored: {exc}."))
    on_progress(70, "Comparing the input schema")
    checks.append(_schema_check(model, candidate, champion))
    on_progress(80, "Timing one-row predictions")
    label = f"One-row prediction: median of {gate.LATENCY_REPEATS} at most {validation.latency_limit_ms:g} ms"
    if row is None:
        checks.append(_check("latency", label, False, "No row to time: the golden sample could not be read."))
    else:
        median = gate.one_row_latency_ms(pipeline, row)
        checks.append(_check("latency", label, median <= validation.latency_limit_ms, f"Median {median:.2f} ms."))
    on_progress(95, "Deciding")
    return validation_finish(validation_id=validation_id, checks=checks)
