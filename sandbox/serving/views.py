"""Pages for deployments and API tokens: thin views over sandbox.serving's services and selectors.

The endpoint itself (what `curl` calls) is in `sandbox.serving.endpoint`; the "try it" form here sends its row
through that same code, authenticated by the learner's session.
"""

import json
import time

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from mlopslab.numbers import whole_number
from mlopslab.refusals import Refused, refusal_to_form
from sandbox.registry.models import RegisteredModel
from sandbox.serving import endpoint, selectors, services
from sandbox.serving.forms import (
    DeploymentForm,
    ReasonForm,
    ReleaseForm,
    RollbackForm,
    TokenForm,
    TryForm,
)
from sandbox.serving.models import Deployment, Strategy


def _version_of(model: RegisteredModel, number: int | None) -> object:
    if not number:
        return None
    version = model.versions.filter(number=number).first()
    if version is None:
        raise services.ServingRefused(f"{model.name} has no version {number}.")
    return version


def _create_initial(request: HttpRequest) -> dict:
    initial = {}
    model_id = whole_number(request.GET.get("model", ""))
    if model_id is not None:
        initial["model"] = model_id
    number = whole_number(request.GET.get("version", ""))
    if number is not None:
        initial["version"] = number
    alias = request.GET.get("alias", "")
    if alias and not number:
        initial["alias"] = alias[:255]
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def deployments(request: HttpRequest) -> HttpResponse:
    """The learner's endpoints, and the form that deploys a version (or an alias) as a new one."""
    form = DeploymentForm(request.POST or None, owner=request.user, initial=_create_initial(request))
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                deployment = services.deployment_create(
                    owner=request.user, name=data["name"], registered_model=data["model"],
                    version=_version_of(data["model"], data["version"]), alias=data["alias"],
                )  # fmt: skip
            except Refused as refusal:
                status = refusal_to_form(form, refusal)
            else:
                messages.success(request, f"Deploying to /serve/{deployment.name}/: the progress shows below.")
                return redirect("sandbox:deployment", deployment.pk)
    context = {"form": form, "deployments": selectors.deployments_owned(owner=request.user)}
    return render(request, "sandbox/serving/deployments.html", context, status=status)


def _base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _detail_context(request: HttpRequest, deployment: Deployment, *, token: str = "", **bound: forms.Form) -> dict:
    releases = selectors.deployment_releases(deployment=deployment)
    snippets = selectors.snippets(deployment=deployment, base_url=_base_url(request), token=token)
    return {
        "deployment": deployment,
        "current": deployment.current_release,
        "pending": selectors.release_pending(deployment=deployment),
        "releases": releases,
        "split": selectors.traffic_split(release=deployment.current_release),
        "log": selectors.predictions_latest(deployment=deployment),
        "refused": selectors.refused_latest(deployment=deployment),
        "snippets": snippets,
        "new_token": token,
        "release_form": bound.get("release_form") or ReleaseForm(),
        "rollback_form": bound.get("rollback_form") or RollbackForm(),
        "reason_form": bound.get("reason_form") or ReasonForm(),
        "token_form": bound.get("token_form") or TokenForm(initial={"name": f"{deployment.name} calls"}),
        "try_form": bound.get("try_form")
        or TryForm(initial={"content_type": "application/json", "body": snippets.body}),
        "try_result": bound.get("try_result"),
        "strategies": Strategy,
    }


@login_required
@require_GET
def deployment_detail(request: HttpRequest, deployment_id: int) -> HttpResponse:
    """The deployment's page; for htmx, its release progress (polled while a release deploys) or its log."""
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    fragment = request.GET.get("fragment", "")
    if request.htmx and fragment == "release":
        pending = selectors.release_pending(deployment=deployment)
        context = {"deployment": deployment, "pending": pending, "current": deployment.current_release}
        response = render(request, "sandbox/serving/deployment.html#release-progress", context)
        if pending is None:
            # The release has ended: 286 stops the poll, and the fragment asks for a reload of the page.
            response.status_code = HTMX_STOP_POLLING
            response["HX-Refresh"] = "true"
        return response
    if request.htmx and fragment == "log":
        context = {
            "deployment": deployment,
            "log": selectors.predictions_latest(deployment=deployment),
            "refused": selectors.refused_latest(deployment=deployment),
            "split": selectors.traffic_split(release=deployment.current_release),
        }
        return render(request, "sandbox/serving/deployment.html#request-log", context)
    return render(request, "sandbox/serving/deployment.html", _detail_context(request, deployment))


def _after(request: HttpRequest, deployment: Deployment, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("sandbox:deployment", deployment.pk)


def _again(request: HttpRequest, deployment: Deployment, status: int, **bound: object) -> HttpResponse:
    deployment.refresh_from_db()
    context = _detail_context(request, deployment, **bound)
    return render(request, "sandbox/serving/deployment.html", context, status=status)


@login_required
@require_POST
def deployment_release(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    form = ReleaseForm(request.POST)
    status = 422
    if form.is_valid():
        data = form.cleaned_data
        try:
            release = services.release_start(
                deployment=deployment, actor=request.user,
                version=_version_of(deployment.registered_model, data["version"]), alias=data["alias"],
                strategy=data["strategy"], canary_percent=data["canary_percent"] or 0, reason=data["reason"],
            )  # fmt: skip
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            what = f"version {release.version.number}" + (f" (@{release.alias})" if release.alias else "")
            return _after(request, deployment, f"Release {release.number} of {what} is deploying.")
    return _again(request, deployment, status, release_form=form)


@login_required
@require_POST
def deployment_rollback(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    form = RollbackForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            release, note = services.deployment_rollback(
                deployment=deployment, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            # Named by the version it brings back: the rollback is a new release, whose number says little.
            version = release.stable_version.number
            return _after(
                request, deployment, f"Rolled back: version {version} serves again (release {release.number}).{note}"
            )
    return _again(request, deployment, status, rollback_form=form)


@login_required
@require_POST
def deployment_switch(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    form = ReasonForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            release, note = services.deployment_switch(
                deployment=deployment, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            number = release.stable_version.number
            return _after(request, deployment, f"Switched: version {number} takes every request now.{note}")
    return _again(request, deployment, status, reason_form=form)


@login_required
@require_POST
def deployment_promote(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    form = ReasonForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            release = services.deployment_promote(
                deployment=deployment, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except Refused as refusal:
            status = refusal_to_form(form, refusal)
        else:
            number = release.stable_version.number
            return _after(request, deployment, f"Promoted: version {number} takes every request now.")
    return _again(request, deployment, status, reason_form=form)


@login_required
@require_POST
def deployment_delete(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    try:
        services.deployment_delete(deployment=deployment)
    except Refused as refusal:
        form = ReasonForm()
        form.add_error(None, refusal.message)
        return _again(request, deployment, refusal.status, reason_form=form)
    messages.success(request, f"Endpoint /serve/{deployment.name}/ is gone; its versions stay in the registry.")
    return redirect("sandbox:deployments")


@login_required
@require_POST
def deployment_try(request: HttpRequest, deployment_id: int) -> HttpResponse:
    """Send the form's body through the endpoint's own code, as the signed-in learner, and show the answer."""
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    form = TryForm(request.POST)
    result = None
    status = 422
    if form.is_valid():
        started = time.perf_counter()
        try:
            row = endpoint.deployment_row(request, deployment.name)
            answer = endpoint.invoke(
                row, form.cleaned_data["body"].encode(), form.cleaned_data["content_type"], started
            )
        except endpoint.Refusal as refusal:
            answer = endpoint.Answer(refusal.response)
        response = answer.response
        try:
            shown = json.dumps(json.loads(response.content), indent=2)
        except ValueError:
            shown = response.content.decode(errors="replace")
        result = {
            "status": response.status_code, "body": shown, "version": answer.version_number, "role": answer.role,
            "request_id": response.get("X-Request-Id", ""),
        }  # fmt: skip
        status = 200
    if request.htmx:
        return render(request, "sandbox/serving/deployment.html#try-it", {
            "deployment": deployment, "try_form": form, "try_result": result,
        }, status=status)  # fmt: skip
    return _again(request, deployment, status, try_form=form, try_result=result)


@login_required
@require_POST
def deployment_token(request: HttpRequest, deployment_id: int) -> HttpResponse:
    """Create an API token from the deployment's page: the snippets carry it this once."""
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            _, token = services.api_token_create(owner=request.user, name=form.cleaned_data["name"])
        except Refused as refusal:
            return _again(request, deployment, refusal_to_form(form, refusal), token_form=form)
        return _again(request, deployment, 201, token=token)
    return _again(request, deployment, 422, token_form=form)


@login_required
@require_GET
def release_bundle(request: HttpRequest, deployment_id: int, number: int) -> HttpResponse:
    """The release's MLflow bundle as a zip: unzip it and `mlflow models serve -m model`, or build its Dockerfile."""
    deployment = selectors.deployment_get_owned(owner=request.user, deployment_id=deployment_id)
    release = selectors.release_get(deployment=deployment, number=number)
    content = services.bundle_open(release)
    filename = f"{deployment.registered_model.name}-v{release.version.number}-mlflow-model.zip"
    return FileResponse(content, as_attachment=True, filename=filename, content_type="application/zip")


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """The learner's API tokens: create one (shown this once) and revoke any."""
    form = TokenForm(request.POST or None)
    status, token = 200, ""
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                _, token = services.api_token_create(owner=request.user, name=form.cleaned_data["name"])
            except Refused as refusal:
                status = refusal_to_form(form, refusal)
            else:
                status, form = 201, TokenForm()
    context = {
        "form": form,
        "tokens": selectors.api_tokens_owned(owner=request.user),
        "new_token": token,
    }
    return render(request, "sandbox/serving/tokens.html", context, status=status)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = selectors.api_token_get_owned(owner=request.user, token_id=token_id)
    services.api_token_revoke(token=token)
    messages.success(request, f"Token {token.name!r} is revoked: requests that carry it now get 401.")
    return redirect("sandbox:tokens")
