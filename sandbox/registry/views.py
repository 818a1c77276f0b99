"""Pages of the model registry: thin views over sandbox.registry's services and selectors."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from mlopslab.refusals import Refused, refusal_to_form
from sandbox.registry import selectors, services
from sandbox.registry.forms import (
    AliasDeleteForm,
    AliasForm,
    AsOfForm,
    DescriptionForm,
    ModelCreateForm,
    OverrideForm,
    PromoteForm,
    RegisterForm,
    TagDeleteForm,
    TagForm,
)
from sandbox.registry.models import ModelVersion, RegisteredModel, Validation
from sandbox.tracking.selectors import run_get_owned


@login_required
@require_http_methods(["GET", "POST"])
def model_list(request: HttpRequest) -> HttpResponse:
    form = ModelCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                model = services.registered_model_create(
                    owner=request.user, name=form.cleaned_data["name"], description=form.cleaned_data["description"]
                )
            except Refused as refusal:
                status = refusal_to_form(form, refusal)
            else:
                return redirect("sandbox:model", model.pk)
    context = {"form": form, "models": selectors.registered_models_owned(owner=request.user)}
    return render(request, "sandbox/registry/models.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def model_register(request: HttpRequest, run_id: int) -> HttpResponse:
    """Register a run's model; GET shows the form on a page of its own (the run page carries a short one)."""
    run = run_get_owned(owner=request.user, run_id=run_id)
    form = RegisterForm(request.POST or None, owner=request.user)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                version = services.model_version_register(
                    run=run,
                    registered_model=form.cleaned_data["model"],
                    model_name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except Refused as refusal:
                status = refusal_to_form(form, refusal)
            else:
                model = version.registered_model
                messages.success(request, f"Registered as version {version.number} of {model.name}.")
                return redirect("sandbox:model_version", model.pk, version.number)
    return render(request, "sandbox/registry/register.html", {"run": run, "form": form}, status=status)


def _model_context(request: HttpRequest, model: RegisteredModel, **bound: forms.Form) -> dict:
    versions = selectors.model_versions(registered_model=model)
    context = {
        "model": model,
        "versions": versions,
        "aliases": selectors.model_aliases(registered_model=model),
        "timeline": selectors.alias_timeline(registered_model=model),
        "alias_names": selectors.alias_names_ever(registered_model=model),
        "description_form": bound.get("description_form")
        or DescriptionForm(initial={"description": model.description}),
        "tag_form": bound.get("tag_form") or TagForm(),
        "alias_form": bound.get("alias_form") or AliasForm(initial={"version": versions[0].number if versions else 1}),
        "as_of_form": AsOfForm(),
        "as_of": None,
    }
    if "when" in request.GET:
        as_of_form = AsOfForm(request.GET)
        context["as_of_form"] = as_of_form
        if as_of_form.is_valid():
            context["as_of"] = selectors.alias_as_of(
                registered_model=model, alias=as_of_form.cleaned_data["alias"], when=as_of_form.cleaned_data["when"]
            )
    return context


@login_required
@require_GET
def model_detail(request: HttpRequest, model_id: int) -> HttpResponse:
    model = selectors.registered_model_get_owned(owner=request.user, model_id=model_id)
    context = _model_context(request, model)
    if request.htmx and request.GET.get("fragment") == "as-of":
        return render(request, "sandbox/registry/model.html#as-of", context)
    status = 422 if "when" in request.GET and not context["as_of_form"].is_valid() else 200
    return render(request, "sandbox/registry/model.html", context, status=status)


def _version_in(model: RegisteredModel, number: int | None) -> ModelVersion:
    version = model.versions.filter(number=number).first() if number else None
    if version is None:
        raise services.RegistryRefused(f"{model.name} has no version {number}.", status=422)
    return version


def _metadata_action(
    data: QueryDict,
    action: str,
    *,
    describe: Callable[[str], None],
    set_tag: Callable[[str, str], None],
    delete_tag: Callable[[str], None],
) -> tuple[str, dict] | None:
    """The description and tag actions a model and a version share, or None for any other action."""
    if action == "description":
        form = DescriptionForm(data)
        if form.is_valid():
            describe(form.cleaned_data["description"])
            return "Description saved.", {}
        return "", {"description_form": form}
    if action == "tag":
        form = TagForm(data)
        if form.is_valid():
            key = form.cleaned_data["key"]
            set_tag(key, form.cleaned_data["value"])
            return f"Tag {key!r} set.", {}
        return "", {"tag_form": form}
    if action == "tag-delete":
        form = TagDeleteForm(data)
        if form.is_valid():
            delete_tag(form.cleaned_data["key"])
            return f"Tag {form.cleaned_data['key']!r} deleted.", {}
        raise services.RegistryRefused("Name the tag to delete.")
    return None


def _model_action(request: HttpRequest, model: RegisteredModel, action: str) -> tuple[str, dict]:
    """Carry out one action on a model; return the message and, on bad input, the form to show with its errors."""
    data = request.POST
    done = _metadata_action(
        data,
        action,
        describe=lambda text: services.registered_model_set_description(registered_model=model, description=text),
        set_tag=lambda key, value: services.registered_model_set_tag(registered_model=model, key=key, value=value),
        delete_tag=lambda key: services.registered_model_delete_tag(registered_model=model, key=key),
    )
    if done is not None:
        return done
    if action == "alias":
        form = AliasForm(data)
        if form.is_valid():
            alias = form.cleaned_data["alias"]
            try:
                version = _version_in(model, form.cleaned_data["version"])
                event = services.model_alias_set(
                    registered_model=model, alias=alias, version=version, actor=request.user,
                    reason=form.cleaned_data["reason"],
                )  # fmt: skip
            except Refused as refusal:
                form.add_error(None, refusal.message)
                form.refusal_status = refusal.status
                return "", {"alias_form": form}
            return f"{alias!r} now points at version {event.to_version.number}.", {}
        return "", {"alias_form": form}
    if action == "alias-delete":
        form = AliasDeleteForm(data)
        if form.is_valid():
            services.model_alias_delete(
                registered_model=model, alias=form.cleaned_data["alias"], actor=request.user,
                reason=form.cleaned_data["reason"],
            )  # fmt: skip
            return f"Alias {form.cleaned_data['alias']!r} deleted.", {}
        raise services.RegistryRefused("Name the alias to delete.")
    raise Http404("There is no such action on a model.")


@login_required
@require_POST
def model_action(request: HttpRequest, model_id: int, action: str) -> HttpResponse:
    model = selectors.registered_model_get_owned(owner=request.user, model_id=model_id)
    status, error = 422, ""
    try:
        message, bad = _model_action(request, model, action)
    except Refused as refusal:
        message, bad, status, error = "", {}, refusal.status, refusal.message
    if message:
        messages.success(request, message)
        return redirect("sandbox:model", model.pk)
    for form in bad.values():
        status = getattr(form, "refusal_status", status)
    model.refresh_from_db()
    context = {**_model_context(request, model, **bad), "action_error": error}
    return render(request, "sandbox/registry/model.html", context, status=status)


def _version_context(version: ModelVersion, **bound: forms.Form) -> dict:
    validations = selectors.version_validations(version=version)
    return {
        "model": version.registered_model,
        "version": version,
        "aliases": [alias.alias for alias in version.aliases.order_by("alias")],
        "validation": validations[0] if validations else None,
        "earlier_validations": validations[1:],
        "description_form": bound.get("description_form")
        or DescriptionForm(initial={"description": version.description}),
        "tag_form": bound.get("tag_form") or TagForm(),
        "promote_form": bound.get("promote_form") or PromoteForm(),
        "override_form": bound.get("override_form"),
    }


@login_required
@require_GET
def version_detail(request: HttpRequest, model_id: int, number: int) -> HttpResponse:
    version = selectors.model_version_get_owned(owner=request.user, model_id=model_id, number=number)
    return render(request, "sandbox/registry/version.html", _version_context(version))


@login_required
@require_GET
def version_gate(request: HttpRequest, model_id: int, number: int) -> HttpResponse:
    """The version's latest gate: the whole version page, or for htmx its gate fragment, polled while pending."""
    version = selectors.model_version_get_owned(owner=request.user, model_id=model_id, number=number)
    context = _version_context(version)
    if not request.htmx:
        return render(request, "sandbox/registry/version.html", context)
    response = render(request, "sandbox/registry/version.html#gate", context)
    validation = context["validation"]
    if validation is None or validation.is_finished:
        # Nothing left to wait for: 286 ends the poll, and the swapped-in fragment has no trigger.
        response.status_code = HTMX_STOP_POLLING
    return response


@login_required
@require_GET
def version_lineage(request: HttpRequest, model_id: int, number: int) -> HttpResponse:
    version = selectors.model_version_get_owned(owner=request.user, model_id=model_id, number=number)
    return render(request, "sandbox/registry/lineage.html", {"model": version.registered_model, "version": version})


def _version_action(request: HttpRequest, version: ModelVersion, action: str) -> tuple[str, dict]:
    data = request.POST
    done = _metadata_action(
        data,
        action,
        describe=lambda text: services.model_version_set_description(version=version, description=text),
        set_tag=lambda key, value: services.model_version_set_tag(version=version, key=key, value=value),
        delete_tag=lambda key: services.model_version_delete_tag(version=version, key=key),
    )
    if done is not None:
        return done
    if action == "promote":
        form = PromoteForm(data)
        if form.is_valid():
            try:
                services.model_version_promote(
                    version=version, actor=request.user, tolerance=form.cleaned_data["tolerance"],
                    latency_limit_ms=form.cleaned_data["latency_limit_ms"], reason=form.cleaned_data["reason"],
                )  # fmt: skip
            except Refused as refusal:
                form.refusal_status = refusal_to_form(form, refusal)
                return "", {"promote_form": form}
            return "The validation gate is queued; the checklist fills in below as it runs.", {}
        return "", {"promote_form": form}
    if action == "override":
        form = OverrideForm(data)
        if form.is_valid():
            validation = Validation.objects.filter(pk=form.cleaned_data["validation"], version=version).first()
            if validation is None:
                form.add_error(None, "That gate is not one of this version's.")
                form.refusal_status = 404
                return "", {"override_form": form}
            try:
                services.validation_override(
                    validation=validation, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except Refused as refusal:
                form.refusal_status = refusal_to_form(form, refusal)
                return "", {"override_form": form}
            return f"Promoted over the failed gate; {validation.alias!r} now points at version {version.number}.", {}
        return "", {"override_form": form}
    raise Http404("There is no such action on a model version.")


@login_required
@require_POST
def version_action(request: HttpRequest, model_id: int, number: int, action: str) -> HttpResponse:
    version = selectors.model_version_get_owned(owner=request.user, model_id=model_id, number=number)
    status, error = 422, ""
    try:
        message, bad = _version_action(request, version, action)
    except Refused as refusal:
        message, bad, status, error = "", {}, refusal.status, refusal.message
    if message:
        messages.success(request, message)
        return redirect("sandbox:model_version", version.registered_model_id, version.number)
    for form in bad.values():
        status = getattr(form, "refusal_status", status)
    if "override_form" in bad and not error:
        # The override form shows only beside a blocked gate; its errors also head the page.
        error = " ".join(message for errors in bad["override_form"].errors.values() for message in errors)
    version.refresh_from_db()
    context = {**_version_context(version, **bad), "action_error": error}
    return render(request, "sandbox/registry/version.html", context, status=status)
