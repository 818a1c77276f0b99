"""Use cases of serving: API tokens, deployments and their releases, and every traffic change.

A release is queued as a deploy job (`sandbox.serving.runners`): the worker packages the version into an MLflow
bundle, stores it, smoke-tests it with sample rows and then switches traffic in one transaction. Rollbacks,
blue-green switches and a canary's promotion change traffic at once, without a job: every version they put in
front was smoke-tested when it was deployed. Each traffic change is a new `Release` row and a new `revision` of
the deployment, which is how every web process learns that its loaded models are stale.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import platform
import re
import secrets
import zipfile

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from lessons.attempts import progress_refresh
from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused
from sandbox.datasets.selectors import version_frame
from sandbox.jobs.registry import JobError, ProgressCallback
from sandbox.jobs.services import job_create_or_refuse
from sandbox.registry import artifacts
from sandbox.registry.models import ModelAlias, ModelVersion, RegisteredModel
from sandbox.registry.services import alias_check, model_alias_rollback
from sandbox.serving.models import ApiToken, Deployment, Release, Strategy

# numpy, pandas and the bundle writer load with the first deploy this process runs, on a worker.
np = lazy_module("numpy")
pd = lazy_module("pandas")
scoring = lazy_module("sandbox.ml.scoring")
bundle = lazy_module("sandbox.ml.bundle")
cloudpickle = lazy_module("cloudpickle")
yaml = lazy_module("yaml")

# The kind of job a release is deployed by (sandbox.serving.runners).
DEPLOY = "serving_deploy"

TOKEN_PREFIX = "mlt_"
MAX_TOKENS = 20
MAX_TOKEN_NAME = 100
MAX_DEPLOYMENTS = 10
MAX_REASON = 2000
# The smoke test scores this many rows of the model's golden sample through the scoring protocol.
SMOKE_ROWS = 20
# Endpoint names are DNS labels, as a Kubernetes service or a Cloud Run service is named.
_ENDPOINT = re.compile(r"^[a-z]([a-z0-9-]{1,61}[a-z0-9])?$")
RESERVED_ENDPOINTS = frozenset({"api", "admin", "static", "serve", "health", "ping", "version", "invocations"})


class ServingRefused(Refused):
    """Nothing was deployed, switched or issued; the message says why."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message, status=status)


# --- API tokens --------------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    """The stored form of a token: SHA-256 is enough for 256 random bits, which no dictionary holds."""
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(*, owner: User, name: str) -> tuple[ApiToken, str]:
    """A new bearer token for the learner's endpoints; the token itself is returned once and never stored."""
    name = name.strip()
    if not name:
        raise ServingRefused("Name the token, e.g. after the laptop or script that will use it.")
    if len(name) > MAX_TOKEN_NAME:
        raise ServingRefused(f"A token's name may be at most {MAX_TOKEN_NAME} characters.")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=owner.pk).first()
        active = ApiToken.objects.filter(owner=owner, revoked_at__isnull=True).count()
        if active >= MAX_TOKENS:
            raise ServingRefused(f"You have {active} active tokens, the most allowed; revoke one first.", status=409)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken.objects.create(owner=owner, name=name, token_hash=token_hash(token), prefix=token[:12])
    return row, token


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke a token: the next request that carries it is refused with 401."""
    if token.revoked_at is not None:
        raise ServingRefused("That token is already revoked.", status=409)
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.revoked_at = now


# --- deployments and releases ------------------------------------------------------------------------------


def endpoint_name_check(name: str) -> str:
    name = name.strip()
    if not _ENDPOINT.match(name):
        raise ServingRefused(
            "An endpoint name is 3 to 63 lower-case letters, digits and dashes, starting with a letter and not "
            "ending with a dash, e.g. churn-api."
        )
    if name in RESERVED_ENDPOINTS:
        raise ServingRefused(f"{name!r} is reserved; choose another endpoint name.")
    return name


def _reason_check(reason: str, *, required: bool = False) -> str:
    reason = reason.strip()
    if required and not reason:
        raise ServingRefused("Write the reason; the release history and the alias timeline keep it.")
    if len(reason) > MAX_REASON:
        raise ServingRefused(f"A reason may be at most {MAX_REASON:,} characters.")
    return reason


def _resolve(model: RegisteredModel, version: ModelVersion | None, alias: str) -> tuple[ModelVersion, str]:
    """The version to deploy: the one given, or the one the alias points at now."""
    if version is not None and alias:
        raise ServingRefused("Deploy either a version or an alias, not both.")
    if alias:
        alias = alias_check(alias)
        pointed = ModelAlias.objects.filter(registered_model=model, alias=alias).select_related("version").first()
        if pointed is None:
            raise ServingRefused(f"{model.name} has no alias {alias!r} to deploy.", status=404)
        version = pointed.version
    if version is None:
        raise ServingRefused("Choose the version or the alias to deploy.")
    if version.registered_model_id != model.pk:
        raise ServingRefused(f"That version is not a version of {model.name}.", status=404)
    if version.status != ModelVersion.Status.READY:
        raise ServingRefused(f"Version {version.number} is not ready.", status=409)
    return version, alias


def _plan(deployment: Deployment, version: ModelVersion, strategy: str, percent: int) -> dict:
    """Which versions a release puts in front, and how: the fields it gives the deployment."""
    if strategy not in Strategy.values:
        raise ServingRefused(f"There is no rollout strategy {strategy!r}; choose one of {', '.join(Strategy.values)}.")
    current = deployment.stable_version_id if deployment.status == Deployment.Status.LIVE else None
    if strategy == Strategy.SINGLE:
        return {"stable_version": version, "candidate_version": None, "canary_percent": 0}
    if current is None:
        raise ServingRefused(
            f"A {Strategy(strategy).label.lower()} release needs a version already serving to stand beside; "
            "deploy one with the single strategy first.",
            status=409,
        )
    if current == version.pk:
        raise ServingRefused(f"Version {version.number} is already the one serving; choose another.", status=409)
    if strategy == Strategy.CANARY:
        if not 1 <= percent <= 99:
            raise ServingRefused("A canary gets between 1 and 99 percent of the requests, e.g. 20.")
        return {"stable_version_id": current, "candidate_version": version, "canary_percent": percent}
    if strategy == Strategy.SHADOW:
        return {"stable_version_id": current, "candidate_version": version, "canary_percent": 0}
    # Blue-green: the new version takes every request, the one serving now stays warm for a switch back.
    return {"stable_version": version, "candidate_version_id": current, "canary_percent": 0}


def _next_number(deployment: Deployment) -> int:
    last = deployment.releases.order_by("-number").values_list("number", flat=True).first() or 0
    return last + 1


def release_start(
    *,
    deployment: Deployment,
    actor: User,
    version: ModelVersion | None = None,
    alias: str = "",
    strategy: str = Strategy.SINGLE,
    canary_percent: int = 0,
    reason: str = "",
) -> Release:
    """Queue a release of a version (or of what an alias points at) with a rollout strategy.

    Canary, shadow and blue-green stand the new version beside the one serving, so they need a live deployment
    (409 otherwise). One release deploys at a time (409). A full or unreachable job queue refuses as any job
    does (429, 503), leaving nothing behind.
    """
    reason = _reason_check(reason)
    with transaction.atomic():
        locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
        model = locked.registered_model
        version, alias = _resolve(model, version, alias)
        if locked.releases.filter(status=Release.Status.PENDING).exists():
            raise ServingRefused("A release of this endpoint is still deploying; wait for it.", status=409)
        plan = _plan(locked, version, strategy, canary_percent)
        release = Release.objects.create(
            deployment=locked, owner=locked.owner, number=_next_number(locked), kind=Release.Kind.DEPLOY,
            strategy=strategy, version=version, alias=alias, previous_id=locked.current_release_id, actor=actor,
            reason=reason, **plan,
        )  # fmt: skip
        # A refused job leaves this block by its exception, taking the release (and a new deployment) with it.
        job = job_create_or_refuse(owner=locked.owner, kind=DEPLOY, params={"release_id": release.pk})
        Release.objects.filter(pk=release.pk).update(job=job)
    release.refresh_from_db()
    return release


def deployment_create(
    *,
    owner: User,
    name: str,
    registered_model: RegisteredModel,
    version: ModelVersion | None = None,
    alias: str = "",
    reason: str = "",
) -> Deployment:
    """A new endpoint at `/serve/<name>/`, its first release (single strategy) queued on a worker.

    Endpoint names are unique across the site (409 when taken); another learner's model is not found (404).
    """
    name = endpoint_name_check(name)
    if registered_model.owner_id != owner.pk:
        raise ServingRefused("There is no such model of yours.", status=404)
    with transaction.atomic():
        if Deployment.objects.filter(owner=owner).count() >= MAX_DEPLOYMENTS:
            raise ServingRefused(
                f"You have {MAX_DEPLOYMENTS} endpoints, the most allowed; delete one first.", status=409
            )
        try:
            with transaction.atomic():
                deployment = Deployment.objects.create(owner=owner, name=name, registered_model=registered_model)
        except IntegrityError:
            raise ServingRefused(f"The endpoint name {name!r} is taken; choose another.", status=409) from None
        release_start(deployment=deployment, actor=owner, version=version, alias=alias, reason=reason)
    deployment.refresh_from_db()
    return deployment


def deployment_delete(*, deployment: Deployment) -> None:
    """Take an endpoint down: its releases and request log go with it; the model versions stay."""
    if deployment.releases.filter(status=Release.Status.PENDING).exists():
        raise ServingRefused("A release of this endpoint is still deploying; wait for it.", status=409)
    deployment.delete()


def _switch(locked: Deployment, release: Release, *, retired_as: str = Release.Status.RETIRED) -> None:
    """Put `release` in front, in the caller's transaction that holds the deployment's row locked: the
    deployment's row, the release's status and the one it replaces change together or not at all."""
    now = timezone.now()
    if locked.current_release_id and locked.current_release_id != release.pk:
        Release.objects.filter(pk=locked.current_release_id, status=Release.Status.LIVE).update(status=retired_as)
    Release.objects.filter(pk=release.pk).update(status=Release.Status.LIVE, live_at=now)
    Deployment.objects.filter(pk=locked.pk).update(
        status=Deployment.Status.LIVE,
        strategy=release.strategy,
        stable_version_id=release.stable_version_id,
        candidate_version_id=release.candidate_version_id,
        canary_percent=release.canary_percent,
        current_release=release,
        revision=F("revision") + 1,
        updated_at=now,
    )


def _sample_rows(version: ModelVersion) -> pd.DataFrame:
    """Rows to smoke-test with: the first of the model's golden sample, else the first of the version's data."""
    model = version.registered_model
    source = model.golden_dataset_version or version.dataset_version
    frame = version_frame(source)
    if model.golden_dataset_version_id and model.golden_rows:
        frame = frame.iloc[model.golden_rows[:SMOKE_ROWS]]
    return frame.head(SMOKE_ROWS)[[column["name"] for column in version.signature]]


def signature_of(version: ModelVersion) -> scoring.Signature:
    """The version's input signature as the scoring protocol reads it: a column that had missing values in
    training (`required: false`) may be missing in a request too, as the pipeline imputes it."""
    return scoring.Signature(
        inputs=tuple(
            scoring.ColumnSpec(name=column["name"], type=column["type"], required=column.get("required", True))
            for column in version.signature
        )
    )


def _records_json(frame: pd.DataFrame) -> bytes:
    columns = list(frame.columns)
    rows = [[None if isinstance(v, float) and v != v else v for v in row] for row in frame.itertuples(index=False)]
    return json.dumps({"dataframe_split": {"columns": columns, "data": rows}}, default=_plain).encode()


def _plain(value: object) -> object:
    item = getattr(value, "item", None)
    if item is None:
        raise TypeError(f"{type(value).__name__} is not JSON")
    return item()


def _smoke_test(version: ModelVersion, pipeline: object, bundled: object) -> dict:
    """Send sample rows through the scoring protocol to the loaded model and to the bundle's own pickled model:
    each must answer one prediction per row, none missing, and the two the same."""
    rows = _sample_rows(version)
    body = _records_json(rows)
    try:
        parsed = scoring.parse_request(body, scoring.CONTENT_TYPE_JSON, signature_of(version))
    except scoring.ScoringError as error:
        raise JobError(f"The sample rows were refused by the endpoint's own parser: {error.message}") from None
    predictions = np.asarray(pipeline.predict(parsed.frame))
    checks = []

    def check(label: str, passed: bool) -> None:
        checks.append({"label": label, "passed": bool(passed)})
        if not passed:
            raise JobError(f"Smoke test failed: {label}.")

    check(f"{len(rows)} sample rows answered with {len(rows)} predictions", predictions.shape[:1] == (len(rows),))
    missing = pd.isna(pd.Series(predictions.ravel())).any()
    check("No prediction is missing (NaN or null)", not missing)
    again = np.asarray(bundled.predict(parsed.frame))
    check("The bundle's pickled model predicts the same", np.array_equal(again, predictions))
    answer = json.loads(scoring.format_predictions(predictions))
    example = json.loads(_records_json(rows.head(1)))["dataframe_split"]
    return {
        "rows": len(rows), "form": parsed.form, "checks": checks, "predictions": answer["predictions"][:5],
        "example": example,
    }  # fmt: skip


def bundle_path(release: Release) -> str:
    """Where a release's bundle is kept: by deployment and version, so a redelivered job overwrites it."""
    return f"deployments/{release.deployment_id}/versions/{release.version_id}/bundle.zip"


def _versions(version: ModelVersion) -> dict[str, str]:
    """The library versions the bundle pins: those the run trained with, and this worker's for the rest."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    recorded = {key: str(value) for key, value in version.run.environment.items() if key != "code" and value}
    for package in ("numpy", "pandas", "scikit-learn", "scipy", "pip", "setuptools", "wheel"):
        if package not in recorded:
            try:
                recorded[package] = installed(package)
            except PackageNotFoundError:
                continue
    recorded.setdefault("python", platform.python_version())
    return recorded


def _bundle_store(release: Release, pipeline: object) -> tuple[str, str, bytes]:
    version = release.version
    files = bundle.bundle_files(
        pipeline=pipeline,
        signature=signature_of(version),
        input_example=_sample_rows(version).head(5),
        versions=_versions(version),
    )
    content = bundle.bundle_zip(files)
    path = bundle_path(release)
    if default_storage.exists(path):
        default_storage.delete(path)
    saved = default_storage.save(path, ContentFile(content))
    if saved != path:
        raise JobError("The bundle could not be stored at its own path; deploy again.")
    return saved, hashlib.sha256(content).hexdigest(), content


def bundle_model(content: bytes) -> object:
    """The pickled model inside a bundle this process has just written, read back from the zip's bytes as
    `mlflow.sklearn` would load it: the file the MLmodel's sklearn flavor names, in its serialization format."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        mlmodel = next((name for name in names if name.rsplit("/", 1)[-1] == "MLmodel"), None)
        if mlmodel is None:
            raise JobError("The bundle has no MLmodel file.")
        root = mlmodel[: -len("MLmodel")]
        flavor = yaml.safe_load(archive.read(mlmodel)).get("flavors", {}).get("sklearn", {})
        pickled = root + str(flavor.get("pickled_model", "model.pkl"))
        if pickled not in names:
            raise JobError(f"The bundle's MLmodel names {pickled!r}, which the bundle does not hold.")
        data = archive.read(pickled)
    if flavor.get("serialization_format") == "cloudpickle":
        return cloudpickle.loads(data)
    return pickle.loads(data)


def release_run(*, release_id: int, on_progress: ProgressCallback) -> Release:
    """Deploy a queued release (called by a worker): bundle, store, smoke-test, then switch traffic.

    Any step that fails raises `JobError` with the reason, and the release fails with it (`release_fail_with_job`)
    while the deployment keeps serving what it served.
    """
    release = Release.objects.select_related(
        "version__registered_model__golden_dataset_version", "version__dataset_version", "version__run", "deployment"
    ).get(pk=release_id)
    if release.status != Release.Status.PENDING:
        return release
    version = release.version
    on_progress(10, f"Loading version {version.number}'s model file and checking its SHA-256")
    try:
        pipeline = artifacts.model_load(version)
    except artifacts.ModelFileRefused as refusal:
        raise JobError(refusal.message) from None
    on_progress(30, "Writing the MLflow bundle (MLmodel, model, environment files, Dockerfile)")
    path, sha, content = _bundle_store(release, pipeline)
    on_progress(60, f"Smoke-testing with {SMOKE_ROWS} sample rows")
    smoke = _smoke_test(version, pipeline, bundle_model(content))
    Release.objects.filter(pk=release.pk).update(bundle_file=path, bundle_sha256=sha, smoke=smoke)
    on_progress(90, "Switching traffic")
    with transaction.atomic():
        locked = Deployment.objects.select_for_update().get(pk=release.deployment_id)
        row = Release.objects.select_for_update().get(pk=release.pk)
        if row.status != Release.Status.PENDING:
            return row
        _switch(locked, row)
    release.refresh_from_db()
    return release


def release_fail_with_job(job_id: int, error: str) -> None:
    """End the release of a deploy job that failed: it never took traffic, and a first one leaves the
    endpoint failed (nothing serves it) rather than deploying for ever."""
    for release in Release.objects.filter(job_id=job_id, status=Release.Status.PENDING):
        Release.objects.filter(pk=release.pk).update(status=Release.Status.FAILED, error=error)
        Deployment.objects.filter(pk=release.deployment_id, current_release__isnull=True).update(
            status=Deployment.Status.FAILED, updated_at=timezone.now()
        )


def _alias_follow(release: Release, leaving: int, arriving: int, actor: User, reason: str) -> str:
    """Move the release's alias from the version leaving the front to the one arriving, when it still points at
    the one leaving; the registry's timeline records it as a rollback with the reason. Returns what happened."""
    if not release.alias or leaving == arriving:
        return ""
    model = release.deployment.registered_model
    pointed = ModelAlias.objects.filter(registered_model=model, alias=release.alias)
    if pointed.values_list("version_id", flat=True).first() != leaving:
        return f" @{release.alias} has moved since it was deployed, so it was left where it is."
    target = ModelVersion.objects.get(pk=arriving)
    model_alias_rollback(registered_model=model, alias=release.alias, version=target, actor=actor, reason=reason)
    return f" @{release.alias} points at version {target.number} again."


def _immediate(
    locked: Deployment, *, kind: str, source: Release, actor: User, reason: str, previous: Release | None,
    retired_as: str, **plan: object,
) -> Release:  # fmt: skip
    release = Release.objects.create(
        deployment=locked, owner=locked.owner, number=_next_number(locked), kind=kind, version=source.version,
        alias=source.alias, previous=previous, actor=actor, reason=reason, bundle_file=source.bundle_file,
        bundle_sha256=source.bundle_sha256, smoke=source.smoke, **plan,
    )  # fmt: skip
    _switch(locked, release, retired_as=retired_as)
    release.refresh_from_db()
    return release


def _live(deployment: Deployment) -> tuple[Deployment, Release]:
    locked = Deployment.objects.select_for_update().select_related("registered_model").get(pk=deployment.pk)
    if locked.status != Deployment.Status.LIVE or locked.current_release_id is None:
        raise ServingRefused("The endpoint has no live release yet.", status=409)
    return locked, Release.objects.select_related("version").get(pk=locked.current_release_id)


def deployment_rollback(*, deployment: Deployment, actor: User, reason: str) -> tuple[Release, str]:
    """Return the endpoint at once to the release that was live before the current one, and move the alias the
    current one deployed back with it (on the registry's timeline, with the reason).

    Returns the new release and a sentence about the alias. Refuses (409) when there is nothing to return to
    or a release is still deploying.
    """
    reason = _reason_check(reason, required=True)
    with transaction.atomic():
        locked, current = _live(deployment)
        if locked.releases.filter(status=Release.Status.PENDING).exists():
            raise ServingRefused("A release of this endpoint is still deploying; wait for it.", status=409)
        target = current.previous
        if target is None:
            raise ServingRefused("This is the endpoint's first release: there is nothing to roll back to.", status=409)
        release = _immediate(
            locked, kind=Release.Kind.ROLLBACK, source=target, actor=actor, reason=reason, previous=target.previous,
            retired_as=Release.Status.ROLLED_BACK, strategy=target.strategy, stable_version_id=target.stable_version_id,
            candidate_version_id=target.candidate_version_id, canary_percent=target.canary_percent,
        )  # fmt: skip
        note = _alias_follow(
            current, current.version_id, target.stable_version_id, actor,
            f"Rolled back endpoint {locked.name} to release {target.number}: {reason}",
        )  # fmt: skip
    # A rollback may meet stage 7's challenge.
    progress_refresh(user=locked.owner)
    return release, note


def deployment_switch(*, deployment: Deployment, actor: User, reason: str = "") -> tuple[Release, str]:
    """Blue-green: the warm version takes every request at once and the one serving becomes the warm one."""
    reason = _reason_check(reason)
    with transaction.atomic():
        locked, current = _live(deployment)
        if current.strategy != Strategy.BLUE_GREEN or current.candidate_version_id is None:
            raise ServingRefused("Only a blue-green release has a warm version to switch to.", status=409)
        release = _immediate(
            locked, kind=Release.Kind.SWITCH, source=current, actor=actor, reason=reason, previous=current,
            retired_as=Release.Status.RETIRED, strategy=Strategy.BLUE_GREEN,
            stable_version_id=current.candidate_version_id, candidate_version_id=current.stable_version_id,
        )  # fmt: skip
        note = _alias_follow(
            current, current.stable_version_id, current.candidate_version_id, actor,
            f"Blue-green switch of endpoint {locked.name}" + (f": {reason}" if reason else ""),
        )  # fmt: skip
    return release, note


def deployment_promote(*, deployment: Deployment, actor: User, reason: str = "") -> Release:
    """A canary or shadow that did well takes every request (single strategy); the old stable version retires."""
    reason = _reason_check(reason)
    with transaction.atomic():
        locked, current = _live(deployment)
        if current.strategy not in (Strategy.CANARY, Strategy.SHADOW) or current.candidate_version_id is None:
            raise ServingRefused("Only a canary or a shadow has a candidate to promote.", status=409)
        return _immediate(
            locked, kind=Release.Kind.PROMOTE, source=current, actor=actor, reason=reason, previous=current,
            retired_as=Release.Status.RETIRED, strategy=Strategy.SINGLE,
            stable_version_id=current.candidate_version_id, candidate_version_id=None, canary_percent=0,
        )  # fmt: skip


def bundle_open(release: Release) -> io.BufferedIOBase:
    """The release's stored bundle, checked against the SHA-256 recorded when the deploy job wrote it."""
    if not release.bundle_file or release.bundle_file != bundle_path(release):
        raise ServingRefused("This release has no bundle to download.", status=404)
    try:
        with default_storage.open(release.bundle_file, "rb") as handle:
            content = handle.read()
    except OSError:
        raise ServingRefused("The bundle's file is missing; deploy the version again.", status=409) from None
    if hashlib.sha256(content).hexdigest() != release.bundle_sha256:
        raise ServingRefused("The bundle's file no longer matches its SHA-256, so it is not served.", status=409)
    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise ServingRefused("The bundle's file is not a zip archive.", status=409)
    return io.BytesIO(content)


def deployment_refuse_nulls(*, deployment: Deployment, columns: list[str]) -> list[str]:
    """Make the endpoint refuse (400) requests that leave any of `columns` empty, as a team does when an upstream
    column arrives broken: a clear refusal the caller sees instead of predictions made from imputed guesses. An
    empty list accepts them again. Columns must be the serving model's inputs (400 otherwise)."""
    with transaction.atomic():
        locked, current = _live(deployment)
        known = list(signature_of(current.stable_version).names)
        unknown = [column for column in columns if column not in known]
        if unknown:
            raise ServingRefused(
                f"{', '.join(map(repr, unknown))} is not an input of the serving model; its inputs are "
                f"{', '.join(known)}."
            )
        chosen = [column for column in known if column in set(columns)]
        Deployment.objects.filter(pk=locked.pk).update(
            refused_null_columns=chosen, revision=F("revision") + 1, updated_at=timezone.now()
        )
    return chosen


def release_add_latency(*, deployment: Deployment, actor: User, added_latency_ms: int, reason: str) -> Release:
    """A release of what serves now with every answer delayed by `added_latency_ms`: the latency regression an
    incident drill ships as if a slower build had gone out. A rollback returns to the release before it."""
    if not 1 <= added_latency_ms <= 5000:
        raise ServingRefused("The added latency is between 1 and 5,000 milliseconds.")
    reason = _reason_check(reason, required=True)
    with transaction.atomic():
        locked, current = _live(deployment)
        release = Release.objects.create(
            deployment=locked, owner=locked.owner, number=_next_number(locked), kind=Release.Kind.DEPLOY,
            strategy=current.strategy, version=current.version, alias=current.alias, previous=current, actor=actor,
            reason=reason, bundle_file=current.bundle_file, bundle_sha256=current.bundle_sha256, smoke=current.smoke,
            stable_version_id=current.stable_version_id, candidate_version_id=current.candidate_version_id,
            canary_percent=current.canary_percent, added_latency_ms=added_latency_ms,
        )  # fmt: skip
        _switch(locked, release)
    release.refresh_from_db()
    return release
