"""What the controls above a deployment's dashboard need (the traffic, report and policy forms), shared by the
dashboard's page and by the views that answer those forms, which show the dashboard again with their errors."""

from django.http import HttpRequest

from mlopslab.lazy import lazy_module
from sandbox.datasets.selectors import version_profile
from sandbox.monitoring import forms, services
from sandbox.monitoring.models import DriftPolicy, TrafficRun
from sandbox.serving.models import Deployment


def _version(deployment: Deployment) -> object:
    return services.serving_version(deployment) if deployment.stable_version_id is not None else None


def _inputs(deployment: Deployment, version: object = None) -> tuple[list[str], list[str]]:
    """The serving model's inputs, and its classes (for label drift), read from its training data's profile."""
    version = version or _version(deployment)
    if version is None:
        return [], []
    inputs = services.input_names(version)
    classes: list[str] = []
    if services._is_classification(version):
        # From the profile stored with the data version: the page never reads the rows.
        _, balance = version_profile(version=version.dataset_version)
        classes = [str(label) for label, _count in balance]
    return inputs, classes


def _algorithms(deployment: Deployment, version: object = None) -> list[tuple[str, str]]:
    version = version or _version(deployment)
    if version is None:
        return []
    training = lazy_module("sandbox.ml.training")
    task = version.dataset_version.dataset.task
    return [(key, algorithm.label) for key, algorithm in training.ALGORITHMS.items() if algorithm.task == task]


def _policy_initial(policy: DriftPolicy | None) -> dict:
    if policy is None:
        return {"enabled": True, "every_requests": 250, "window": 500, "drift_share": 0.5, "canary_percent": 20,
                "promote_after": 50}  # fmt: skip
    return {
        "enabled": policy.enabled, "every_minutes": policy.every_minutes, "every_requests": policy.every_requests,
        "window": policy.window, "drift_share": policy.drift_share, "retrain": policy.retrain,
        "recent_only": policy.recent_only, "algorithm": policy.algorithm, "canary_percent": policy.canary_percent,
        "promote": policy.promote, "promote_after": policy.promote_after,
    }  # fmt: skip


def controls_context(request: HttpRequest, deployment: Deployment, **bound: object) -> dict:
    """What the controls above a deployment's dashboard need: the traffic, report and policy forms (bound ones
    when a post came back with errors), the active traffic run, and the policy."""
    version = _version(deployment)
    inputs, classes = _inputs(deployment, version)
    algorithms = _algorithms(deployment, version)
    policy = DriftPolicy.objects.filter(deployment=deployment).first()
    active = TrafficRun.objects.filter(deployment=deployment, finished_at__isnull=True).select_related("job").first()
    return {
        "traffic_form": bound.get("traffic_form") or forms.TrafficForm(inputs=inputs, classes=classes),
        "report_form": bound.get("report_form") or forms.ReportForm(inputs=inputs),
        "policy_form": bound.get("policy_form")
        or forms.PolicyForm(initial=_policy_initial(policy), algorithms=algorithms),
        "retrain_form": bound.get("retrain_form") or forms.RetrainForm(algorithms=algorithms),
        "policy": policy,
        "active_traffic": active,
        "inputs": inputs,
        "classes": classes,
        "is_live": deployment.status == Deployment.Status.LIVE,
    }
