"""Whatever a browser or a script sends, the answer is a page or a clear 4xx, never a 500."""

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lessons import attempts
from lessons.models import Node, Question
from sandbox.datasets import services as dataset_services
from sandbox.models import Experiment, Run

JUNK = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "-1", "0", "1e309", "nan", "NaN", "inf", "999999999999", "0.5", "true", "[]", "{}", "\x00"]),
)
FORMS = st.dictionaries(
    st.sampled_from(
        ["choice", "value", "rating", "position-0", "position-1", "position-2", "score", "epochs", "seed", "algorithm",
         "version", "param_C", "param_max_iter", "impute", "test_size", "validation_size", "cv_folds", "name",
         "sweep_C", "key", "note", "stages", "minutes", "builtin", "rows", "noise", "target", "dataset", "filter"]
    ),
    JUNK,
    max_size=8,
)  # fmt: skip


@pytest.fixture
def world(learner: object, course: object, settings: object, tmp_path: object) -> dict:
    settings.MEDIA_ROOT = tmp_path
    node = Node.objects.get(slug="first")
    attempt = attempts.attempt_start_node(user=learner, node=node)
    dataset = dataset_services.dataset_create_builtin(owner=learner, name="iris")
    experiment = Experiment.objects.create(owner=learner, name="e", dataset=dataset)
    run = Run.objects.create(
        experiment=experiment, owner=learner, dataset_version=dataset.versions.get(), name="r",
        algorithm="logistic_regression", params={}, seed=1,
    )  # fmt: skip
    question = Question.objects.get(qid="first-single")
    return {
        "posts": [
            reverse("lessons:answer", args=[attempt.pk, question.pk]),
            reverse("lessons:answer", args=[attempt.pk, Question.objects.get(qid="first-ordering").pk]),
            reverse("lessons:answer", args=[attempt.pk, Question.objects.get(qid="first-numeric").pk]),
            reverse("lessons:interview_start"),
            reverse("lessons:profile"),
            reverse("sandbox:job_start"),
            reverse("sandbox:dataset_create", args=["builtin"]),
            reverse("sandbox:dataset_create", args=["churn"]),
            reverse("sandbox:experiments"),
            reverse("sandbox:run_create", args=[experiment.pk]),
            reverse("sandbox:sweep_create", args=[experiment.pk]),
            reverse("sandbox:run_action", args=[run.pk, "tag"]),
            reverse("sandbox:run_action", args=[run.pk, "note"]),
        ],
        "gets": [
            reverse("sandbox:experiment", args=[experiment.pk]),
            reverse("sandbox:compare", args=[experiment.pk]),
            reverse("lessons:glossary"),
            reverse("lessons:attempt", args=[attempt.pk]),
        ],
    }


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=FORMS, htmx=st.booleans())
def test_junk_never_causes_a_server_error(
    learner_client: Client, world: dict, celery_eager: None, form: dict, htmx: bool
) -> None:
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    for url in world["posts"]:
        response = learner_client.post(url, form, **headers)
        assert response.status_code < 500, (url, form, response.status_code)
    for url in world["gets"]:
        response = learner_client.get(
            url, {**form, "sort": form.get("filter", ""), "runs": form.get("value", "")}, **headers
        )
        assert response.status_code < 500, (url, form, response.status_code)
