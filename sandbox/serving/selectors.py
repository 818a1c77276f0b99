"""Reads of deployments, releases, tokens and the request log, always scoped to the learner who owns them."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from sandbox.serving.models import ApiToken, Deployment, PredictionLog, RefusedRequest, Release

# The page shows this many of the newest requests, and reads the split from this many of the current release's.
LOG_SHOWN = 50
SPLIT_WINDOW = 1000
RELEASES_SHOWN = 20
TOKEN_PLACEHOLDER = "$MLOPSLAB_TOKEN"


def deployment_get_owned(*, owner: User, deployment_id: int) -> Deployment:
    """The learner's own deployment, or 404: another learner's id looks like no deployment at all."""
    return get_object_or_404(
        Deployment.objects.select_related("registered_model", "stable_version", "candidate_version", "current_release"),
        pk=deployment_id,
        owner=owner,
    )


def deployments_owned(*, owner: User) -> QuerySet[Deployment]:
    return Deployment.objects.filter(owner=owner).select_related(
        "registered_model", "stable_version", "candidate_version", "current_release"
    )


def deployment_releases(*, deployment: Deployment, limit: int = RELEASES_SHOWN) -> list[Release]:
    """The newest releases first, with their versions and jobs."""
    return list(
        deployment.releases.select_related("version", "stable_version", "candidate_version", "job", "actor").order_by(
            "-number"
        )[:limit]
    )


def release_pending(*, deployment: Deployment) -> Release | None:
    return (
        deployment.releases.filter(status=Release.Status.PENDING)
        .select_related("job", "version", "stable_version", "candidate_version")
        .first()
    )


def release_get(*, deployment: Deployment, number: int) -> Release:
    return get_object_or_404(Release.objects.select_related("version"), deployment=deployment, number=number)


@dataclass(frozen=True)
class LoggedRequest:
    at: object
    role: str
    version_number: int
    status: str
    latency_ms: float
    row_count: int
    request_id: str
    first_input: str
    first_prediction: str
    error: str


def predictions_latest(*, deployment: Deployment, limit: int = LOG_SHOWN) -> list[LoggedRequest]:
    """The newest log rows (a seek on `prediction_newest`), each with a short view of its first row."""
    rows = (
        PredictionLog.objects.filter(deployment=deployment)
        .order_by("-id")
        .values_list(
            "created_at", "role", "version__number", "status", "latency_ms", "row_count", "request_id", "inputs",
            "predictions", "error",
        )[:limit]
    )  # fmt: skip
    shown = []
    for at, role, number, status, latency, count, request_id, inputs, predictions, error in rows:
        first = json.dumps(inputs[0]) if inputs else ""
        logged = LoggedRequest(
            at=at, role=role, version_number=number, status=status, latency_ms=latency, row_count=count,
            request_id=request_id, first_input=first if len(first) <= 120 else first[:119] + "…",
            first_prediction=json.dumps(predictions[0]) if predictions else "", error=error,
        )  # fmt: skip
        shown.append(logged)
    return shown


REFUSED_SHOWN = 10


def refused_latest(*, deployment: Deployment, limit: int = REFUSED_SHOWN) -> list[RefusedRequest]:
    """The newest requests the endpoint refused after accepting their token (a seek on `refused_request_newest`)."""
    return list(
        RefusedRequest.objects.filter(deployment=deployment)
        .select_related("version")
        .order_by("-id")
        .only("created_at", "status", "error_code", "message", "body", "body_bytes", "version__number")[:limit]
    )


@dataclass(frozen=True)
class Split:
    """How the current release's latest requests were answered."""

    total: int
    by_role: dict[str, int]
    window: int

    def share(self, role: str) -> float:
        return 100 * self.by_role.get(role, 0) / self.total if self.total else 0.0

    @property
    def answered(self) -> int:
        return self.by_role.get(PredictionLog.Role.STABLE, 0) + self.by_role.get(PredictionLog.Role.CANARY, 0)


def traffic_split(*, release: Release | None) -> Split:
    """Roles of the release's latest SPLIT_WINDOW answered requests (shadow copies counted apart)."""
    if release is None:
        return Split(total=0, by_role={}, window=SPLIT_WINDOW)
    roles = Counter(
        PredictionLog.objects.filter(release=release).order_by("-id").values_list("role", flat=True)[:SPLIT_WINDOW]
    )
    answered = roles.get(PredictionLog.Role.STABLE, 0) + roles.get(PredictionLog.Role.CANARY, 0)
    return Split(total=answered, by_role=dict(roles), window=SPLIT_WINDOW)


def api_tokens_owned(*, owner: User) -> list[ApiToken]:
    return list(ApiToken.objects.filter(owner=owner).order_by("revoked_at", "-created_at", "-pk"))


def api_token_get_owned(*, owner: User, token_id: int) -> ApiToken:
    return get_object_or_404(ApiToken, pk=token_id, owner=owner)


@dataclass(frozen=True)
class Snippets:
    invocations: str
    ping: str
    version: str
    body: str
    curl: str
    python: str
    token_shown: bool


def example_body(deployment: Deployment) -> str:
    """A one-row `dataframe_split` request built from the sample the deploy job smoke-tested with."""
    release = deployment.current_release
    example = (release.smoke or {}).get("example") if release is not None else None
    if not example:
        signature = deployment.stable_version.signature if deployment.stable_version else []
        names = [column["name"] for column in signature]
        example = {"columns": names, "data": [[0 for _ in names]]}
    return json.dumps({"dataframe_split": example})


def snippets(*, deployment: Deployment, base_url: str, token: str = "") -> Snippets:
    """A ready-to-copy `curl` command and Python `requests` snippet for the endpoint, with the real URL, and the
    token when one was just created (otherwise a placeholder variable to set)."""
    root = f"{base_url.rstrip('/')}/serve/{deployment.name}"
    invocations = f"{root}/invocations"
    body = example_body(deployment)
    shown = token or TOKEN_PLACEHOLDER
    curl = (
        f"curl -X POST {shlex.quote(invocations)} \\\n"
        f'  -H "Authorization: Bearer {shown}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(body)}"
    )
    token_line = f'token = "{token}"' if token else 'token = os.environ["MLOPSLAB_TOKEN"]'
    python = (
        ("import os\n" if not token else "")
        + "import requests\n\n"
        + f"{token_line}\n"
        + f"payload = {json.loads(body)!r}\n"
        + "response = requests.post(\n"
        + f'    "{invocations}",\n'
        + "    json=payload,\n"
        + '    headers={"Authorization": f"Bearer {token}"},\n'
        + "    timeout=10,\n"
        + ")\n"
        + "response.raise_for_status()\n"
        + 'print(response.json()["predictions"])\n'
    )
    return Snippets(
        invocations=invocations, ping=f"{root}/ping", version=f"{root}/version", body=body, curl=curl,
        python=python, token_shown=bool(token),
    )  # fmt: skip
