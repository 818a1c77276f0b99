"""A learner's account can be deleted (by an admin, or when they leave) with everything they made in the sandbox,
while a version that still serves, or a dataset version a kept run was trained on, cannot be deleted alone."""

import pytest
from django.contrib.auth.models import User
from django.db.models import ProtectedError, RestrictedError

from sandbox.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    ModelAlias,
    ModelVersion,
    PredictionLog,
    RegisteredModel,
    Run,
)
from tests.unit import test_serving_setup as setup
from tests.unit.test_serving_setup import invoke, split_body

cancer, jobs_now, live, token, v1, v2 = setup.cancer, setup.jobs_now, setup.live, setup.token, setup.v1, setup.v2

pytestmark = pytest.mark.django_db


def test_a_learner_with_runs_versions_and_a_live_deployment_can_be_deleted(
    live: Deployment, v1: ModelVersion, v2: ModelVersion, token: str, learner: User, other_learner: User
) -> None:
    from django.test import Client

    assert invoke(Client(), "cancer-api", split_body(v1), token).status_code == 200
    assert Run.objects.filter(owner=learner).exists()
    learner.delete()
    for model in (Dataset, DatasetVersion, Run, RegisteredModel, ModelVersion, ModelAlias, Deployment, PredictionLog):
        assert not model.objects.exists(), model.__name__
    assert User.objects.filter(pk=other_learner.pk).exists()


def test_what_still_serves_or_was_trained_on_cannot_be_deleted_alone(live: Deployment, v1: ModelVersion) -> None:
    with pytest.raises((ProtectedError, RestrictedError)):
        v1.delete()
    with pytest.raises((ProtectedError, RestrictedError)):
        v1.run.dataset_version.delete()
    assert ModelVersion.objects.filter(pk=v1.pk).exists()
