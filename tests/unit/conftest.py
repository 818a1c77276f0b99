"""The site's every page, for tests that walk all of them."""

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from community.models import Post
from lessons import attempts
from lessons.models import Node, Question
from sandbox.datasets import services as dataset_services
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.ml import training
from sandbox.models import (
    ApiToken,
    Deployment,
    DriftReport,
    Drill,
    Experiment,
    Job,
    ModelVersion,
    MonitoringEvent,
    RegisteredModel,
    Release,
    Run,
    TrafficRun,
)

# Logging out would leave the rest of a walk anonymous; the admin is Django's own; the health pages
# take no input and answer 503 by contract while Redis is down.
SKIPPED = {"logout", "healthz", "status"}
REGISTRY_ACTIONS = {
    "sandbox:model_action": ("description", "tag", "tag-delete", "alias", "alias-delete"),
    "sandbox:model_version_action": ("description", "tag", "tag-delete", "promote", "override"),
}


@dataclass(frozen=True)
class SiteUrl:
    name: str
    path: str
    takes_id: bool
    """Whether the path names one of the learner's own objects (a quiz attempt, a job, a run…)."""


def _patterns(resolver: URLResolver, namespace: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue
            found += _patterns(entry, f"{entry.namespace}:" if entry.namespace else namespace)
        elif entry.name and entry.name not in SKIPPED:
            found.append((namespace + entry.name, entry))
    return found


@pytest.fixture
def site_urls(learner: object, course: object, settings: object, tmp_path: object) -> list[SiteUrl]:
    """Every named URL of the site, reversed with the learner's own objects."""
    settings.MEDIA_ROOT = tmp_path
    node = Node.objects.get(slug="first")
    attempt = attempts.attempt_start_node(user=learner, node=node)
    dataset = dataset_services.dataset_create_churn(
        owner=learner, name="c", settings={"rows": 200, "noise": 0.1, "churn_rate": 0.3, "missing_rate": 0, "seed": 1}
    )
    experiment = Experiment.objects.create(owner=learner, name="e", dataset=dataset)
    run = Run.objects.create(
        experiment=experiment, owner=learner, dataset_version=dataset.versions.get(), name="r",
        algorithm="logistic_regression", params={"C": 1.0, "max_iter": 200}, seed=1, status=Run.Status.SUCCEEDED,
        preparation=training.Preparation().as_dict(), metrics={"val_f1": 0.8},
        split={"test_size": 0.2, "validation_size": 0.2, "cv_folds": 0},
    )  # fmt: skip
    job = Job.objects.create(owner=learner, kind=FIRST_MODEL)
    model = RegisteredModel.objects.create(owner=learner, name="m")
    version = ModelVersion.objects.create(
        registered_model=model, owner=learner, number=1, run=run, dataset_version=run.dataset_version,
        model_file=f"runs/{run.pk}/model.joblib", model_sha256="0" * 64, signature=[],
    )  # fmt: skip
    deployment = Deployment.objects.create(
        owner=learner, name="m-api", registered_model=model, status=Deployment.Status.LIVE, stable_version=version
    )
    release = Release.objects.create(
        deployment=deployment, owner=learner, number=1, status=Release.Status.LIVE, strategy="single",
        version=version, stable_version=version, actor=learner,
    )  # fmt: skip
    Deployment.objects.filter(pk=deployment.pk).update(current_release=release, revision=1)
    token = ApiToken.objects.create(owner=learner, name="t", token_hash="0" * 64, prefix="mlt_0")
    traffic = TrafficRun.objects.create(owner=learner, deployment=deployment, requests=10, rate=10)
    report = DriftReport.objects.create(owner=learner, deployment=deployment, reference=run.dataset_version)
    event = MonitoringEvent.objects.create(deployment=deployment, kind="alert", message="Drift detected.")
    drill = Drill.objects.create(owner=learner, deployment=deployment, version=version, fault="latency")
    # Community posts are public to every learner, so their ids are not among the learner's own objects below.
    post = Post.objects.create(
        kind=Post.Kind.QUESTION, author=learner, node=node, title="Why does my gate fail?", body="b", body_html="b"
    )
    values = {
        "node_slug": node.slug, "lesson_slug": "intro", "attempt_id": attempt.pk,
        "question_id": Question.objects.get(qid="first-single").pk, "job_id": job.pk, "dataset_id": dataset.pk,
        "number": 1, "experiment_id": experiment.pk, "run_id": run.pk, "model_id": model.pk,
        "deployment_id": deployment.pk, "token_id": token.pk, "endpoint": deployment.name, "traffic_id": traffic.pk,
        "report_id": report.pk, "event_id": event.pk, "drill_id": drill.pk, "cohort_id": 1, "code": "K7MWP2QX",
        "kind": "lesson", "key": "first/intro", "conflict_id": 1, "term_slug": "data-drift", "faq_order": 1,
        "post_id": post.pk, "prompt_id": 1, "notification_id": 1, "answer_id": 1,
    }  # fmt: skip
    ids = {
        "attempt_id", "job_id", "dataset_id", "experiment_id", "run_id", "model_id", "deployment_id", "token_id",
        "traffic_id", "report_id", "event_id", "drill_id",
    }  # fmt: skip
    urls = []
    for name, pattern in _patterns(get_resolver()):
        wanted = list(pattern.pattern.converters)
        takes_id = bool(ids & set(wanted))
        if name == "sandbox:dataset_create":
            urls += [SiteUrl(name, reverse(name, args=[source]), takes_id) for source in ("builtin", "churn", "upload")]
        elif name == "sandbox:run_action":
            urls += [
                SiteUrl(name, reverse(name, args=[run.pk, action]), takes_id)
                for action in ("tag", "note", "reveal", "replay")
            ]
        elif name in REGISTRY_ACTIONS:
            base = {key: values[key] for key in wanted if key != "action"}
            urls += [
                SiteUrl(name, reverse(name, kwargs={**base, "action": action}), takes_id)
                for action in REGISTRY_ACTIONS[name]
            ]
        else:
            urls.append(SiteUrl(name, reverse(name, kwargs={key: values[key] for key in wanted}), takes_id))
    return urls
