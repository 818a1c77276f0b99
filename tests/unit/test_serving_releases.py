"""Releases and their strategies through the real deploy job and the real endpoint: canary split, shadow,
blue-green switch, promotion, rollback (with the alias moving back on the registry's timeline), and the
stage 7 challenge."""

import json
from collections import Counter
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from lessons.challenges import challenge_status
from mlopslab.refusals import Refused
from sandbox.models import AliasEvent, Deployment, ModelAlias, ModelVersion, PredictionLog, Release
from sandbox.registry.models import Validation
from sandbox.serving import endpoint, services
from tests.unit import test_serving_setup as setup
from tests.unit.test_serving_setup import invoke, rows, split_body

cancer, jobs_now, live, token, v1, v2 = setup.cancer, setup.jobs_now, setup.live, setup.token, setup.v1, setup.v2

pytestmark = pytest.mark.django_db


def _release(jobs_now: Callable, deployment: Deployment, learner: User, **kwargs: object) -> Release:
    release = jobs_now(services.release_start, deployment=deployment, actor=learner, **kwargs)
    release.refresh_from_db()
    assert release.status == Release.Status.LIVE, release.error
    deployment.refresh_from_db()
    return release


def _answers(client: Client, version: ModelVersion, token: str, count: int) -> list[str]:
    """Which version answered each of `count` one-row requests (the data's first 50 rows in turn)."""
    names, data = rows(version, 50)
    bodies = [json.dumps({"dataframe_split": {"columns": names, "data": [row]}}).encode() for row in data]
    return [invoke(client, "cancer-api", bodies[i % 50], token)["X-Model-Version"] for i in range(count)]


def test_a_canary_answers_its_share_and_the_log_shows_the_split(
    live: Deployment, v1: ModelVersion, v2: ModelVersion, token: str, learner: User, jobs_now: Callable
) -> None:
    release = _release(jobs_now, live, learner, version=v2, strategy="canary", canary_percent=20)
    assert (live.stable_version_id, live.candidate_version_id, live.canary_percent) == (v1.pk, v2.pk, 20)
    endpoint.router.seed(20231115)
    answered = _answers(Client(), v1, token, 500)
    endpoint.router.seed(20231115)
    assert _answers(Client(), v1, token, 500) == answered  # the same seed routes the same requests
    share = Counter(answered)["2"] / len(answered)
    assert 0.15 < share < 0.25, share
    roles = Counter(PredictionLog.objects.filter(release=release).values_list("role", flat=True))
    assert roles == {"canary": Counter(answered)["2"] * 2, "stable": Counter(answered)["1"] * 2}
    assert set(PredictionLog.objects.filter(role="canary").values_list("version_id", flat=True)) == {v2.pk}
    from sandbox.serving import selectors

    split = selectors.traffic_split(release=release)
    assert split.total == 1000
    assert split.by_role["canary"] == roles["canary"]


def test_a_shadow_answers_a_copy_that_is_logged_and_never_returned(
    live: Deployment, v1: ModelVersion, v2: ModelVersion, token: str, learner: User, jobs_now: Callable
) -> None:
    _release(jobs_now, live, learner, version=v2, strategy="shadow")
    client = Client()
    for i in range(10):
        response = invoke(client, "cancer-api", split_body(v1, 3, i), token)
        assert response["X-Model-Version"] == "1"
        returned = json.loads(response.content)["predictions"]
        pair = dict(PredictionLog.objects.filter(request_id=response["X-Request-Id"]).values_list("role", "version_id"))
        assert pair == {"stable": v1.pk, "shadow": v2.pk}
        stable = PredictionLog.objects.get(request_id=response["X-Request-Id"], role="stable")
        assert stable.predictions == returned
    shadows = PredictionLog.objects.filter(role="shadow")
    assert shadows.count() == 10
    assert all(len(predictions) == 3 for predictions in shadows.values_list("predictions", flat=True))


def test_a_shadow_that_fails_is_logged_as_an_error_and_the_caller_still_gets_the_stable_answer(
    live: Deployment, v1: ModelVersion, v2: ModelVersion, token: str, learner: User, jobs_now: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _release(jobs_now, live, learner, version=v2, strategy="shadow")
    real = endpoint._predict

    def failing(answerer: endpoint.Answerer, frame: object) -> object:
        if answerer.version_id == v2.pk:
            raise ValueError("the shadow broke")
        return real(answerer, frame)

    monkeypatch.setattr(endpoint, "_predict", failing)
    response = invoke(Client(), "cancer-api", split_body(v1), token)
    assert response.status_code == 200
    shadow = PredictionLog.objects.get(role="shadow")
    assert shadow.status == "error"
    assert "the shadow broke" in shadow.error


def test_blue_green_moves_every_request_at_once_and_switches_back_in_one_click(
    live: Deployment, v1: ModelVersion, v2: ModelVersion, token: str, learner: User, jobs_now: Callable
) -> None:
    _release(jobs_now, live, learner, version=v2, strategy="blue_green")
    assert (live.stable_version_id, live.candidate_version_id) == (v2.pk, v1.pk)
    assert set(_answers(Client(), v1, token, 20)) == {"2"}
    switched, _ = services.deployment_switch(deployment=live, actor=learner, reason="v2 is slower")
    assert (switched.stable_version_id, switched.candidate_version_id) == (v1.pk, v2.pk)
    assert set(_answers(Client(), v1, token, 20)) == {"1"}
    assert switched.kind == Release.Kind.SWITCH


def test_a_canary_promoted_takes_every_request(
    live: Deployment, v1: ModelVersion, v2: ModelVersion, token: str, learner: User, jobs_now: Callable
) -> None:
    _release(jobs_now, live, learner, version=v2, strategy="canary", canary_percent=20)
    promoted = services.deployment_promote(deployment=live, actor=learner, reason="fine")
    assert (promoted.strategy, promoted.stable_version_id, promoted.candidate_version_id) == ("single", v2.pk, None)
    assert set(_answers(Client(), v1, token, 20)) == {"2"}


def _champion(version: ModelVersion, learner: User) -> None:
    """Point champion at the version as a passed gate does."""
    from sandbox.registry.services import validation_finish

    model = version.registered_model
    current = ModelAlias.objects.filter(registered_model=model, alias="champion").first()
    validation = Validation.objects.create(
        registered_model=model, owner=learner, version=version, alias="champion",
        champion=current.version if current else None, tolerance=0.01, latency_limit_ms=50,
    )  # fmt: skip
    validation_finish(validation_id=validation.pk, checks=[{"key": "k", "label": "l", "passed": True, "detail": ""}])
    assert model.aliases.get(alias="champion").version_id == version.pk


def test_rolling_back_returns_to_the_previous_release_and_moves_the_alias_back_on_the_timeline(
    learner: User, v1: ModelVersion, v2: ModelVersion, token: str, jobs_now: Callable
) -> None:
    model = v1.registered_model
    _champion(v1, learner)
    deployment = jobs_now(
        services.deployment_create, owner=learner, name="cancer-api", registered_model=model, alias="champion"
    )
    deployment.refresh_from_db()
    assert deployment.stable_version_id == v1.pk
    _champion(v2, learner)
    bad = _release(jobs_now, deployment, learner, alias="champion", strategy="single")
    assert (bad.version_id, bad.alias, deployment.stable_version_id) == (v2.pk, "champion", v2.pk)
    assert set(_answers(Client(), v1, token, 5)) == {"2"}

    release, note = services.deployment_rollback(deployment=deployment, actor=learner, reason="v2 answers badly")
    deployment.refresh_from_db()
    assert (release.kind, release.stable_version_id, deployment.stable_version_id) == ("rollback", v1.pk, v1.pk)
    assert deployment.current_release_id == release.pk
    bad.refresh_from_db()
    assert bad.status == Release.Status.ROLLED_BACK
    assert set(_answers(Client(), v1, token, 5)) == {"1"}
    assert model.aliases.get(alias="champion").version_id == v1.pk
    event = AliasEvent.objects.filter(registered_model=model).order_by("-at", "-pk").first()
    assert (event.action, event.from_version_id, event.to_version_id) == ("rollback", v2.pk, v1.pk)
    assert "v2 answers badly" in event.reason
    assert "champion" in note
    with pytest.raises(Refused) as refused:
        services.deployment_rollback(deployment=deployment, actor=learner, reason="again")
    assert refused.value.status == 409  # the first release has nothing before it


def test_rollback_needs_a_reason_and_a_release_to_return_to(live: Deployment, learner: User) -> None:
    with pytest.raises(Refused) as refused:
        services.deployment_rollback(deployment=live, actor=learner, reason=" ")
    assert refused.value.status == 422
    with pytest.raises(Refused) as refused:
        services.deployment_rollback(deployment=live, actor=learner, reason="why not")
    assert refused.value.status == 409


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"strategy": "canary", "canary_percent": 0}, 422),
        ({"strategy": "canary", "canary_percent": 100}, 422),
        ({"strategy": "rainbow"}, 422),
        ({"strategy": "canary", "canary_percent": 20, "same": True}, 409),
        ({"alias": "nobody", "strategy": "single"}, 404),
    ],
)
def test_a_release_that_cannot_be_is_refused_and_leaves_nothing(
    live: Deployment, v2: ModelVersion, learner: User, celery_eager: None, kwargs: dict, status: int
) -> None:
    if kwargs.pop("same", False):
        kwargs["version"] = live.stable_version
    elif "alias" not in kwargs:
        kwargs["version"] = v2
    before = (Release.objects.count(), live.revision)
    with pytest.raises(Refused) as refused:
        services.release_start(deployment=live, actor=learner, **kwargs)
    assert refused.value.status == status
    live.refresh_from_db()
    assert (Release.objects.count(), live.revision) == before


def test_a_canary_needs_a_version_serving_first(learner: User, v1: ModelVersion, celery_eager: None) -> None:
    deployment = services.deployment_create(
        owner=learner, name="fresh", registered_model=v1.registered_model, version=v1
    )
    with pytest.raises(Refused) as refused:
        services.release_start(deployment=deployment, actor=learner, version=v1, strategy="canary", canary_percent=20)
    assert refused.value.status == 409


def test_endpoint_names_are_dns_labels_unique_across_the_site(
    learner: User, other_learner: User, v1: ModelVersion, celery_eager: None
) -> None:
    for bad in ("", "ab", "Cancer", "-api", "api-", "a_b", "a" * 64, "serve", "a b"):
        with pytest.raises(Refused):
            services.endpoint_name_check(bad)
    services.deployment_create(owner=learner, name="taken", registered_model=v1.registered_model, version=v1)
    from sandbox.registry import services as registry

    theirs = registry.registered_model_create(owner=other_learner, name="theirs")
    with pytest.raises(Refused) as refused:
        services.deployment_create(owner=other_learner, name="taken", registered_model=theirs)
    assert refused.value.status in (409, 422)
    with pytest.raises(Refused) as refused:
        services.deployment_create(owner=other_learner, name="mine", registered_model=v1.registered_model, version=v1)
    assert refused.value.status == 404
    assert Deployment.objects.count() == 1


def test_the_stage_7_challenge_reads_the_canary_its_requests_and_the_rollback(
    live: Deployment, v1: ModelVersion, v2: ModelVersion, token: str, learner: User, jobs_now: Callable,
    django_assert_max_num_queries: Callable,
) -> None:  # fmt: skip
    def steps() -> list[bool]:
        return [met for _, met in challenge_status("deployment.serve-predictions", learner).steps]

    assert steps() == [False, False, False]
    _release(jobs_now, live, learner, version=v2, strategy="canary", canary_percent=20)
    assert steps() == [True, False, False]
    _answers(Client(), v1, token, 49)
    assert steps() == [True, False, False]
    _answers(Client(), v1, token, 1)
    assert steps() == [True, True, False]
    services.deployment_rollback(deployment=live, actor=learner, reason="the canary misbehaves")
    with django_assert_max_num_queries(4):
        assert steps() == [True, True, True]


def test_requests_to_a_20_percent_canary_and_a_rollback_refresh_the_learners_progress(
    live: Deployment, v1: ModelVersion, v2: ModelVersion, token: str, learner: User, jobs_now: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _release(jobs_now, live, learner, version=v2, strategy="canary", canary_percent=20)
    refreshed = []
    monkeypatch.setattr(endpoint, "progress_refresh", lambda user: refreshed.append(("request", user.pk)))
    monkeypatch.setattr(services, "progress_refresh", lambda user: refreshed.append(("rollback", user.pk)))
    monkeypatch.setattr(endpoint, "_challenge_requests", __import__("itertools").count(1))
    _answers(Client(), v1, token, 2 * endpoint.PROGRESS_EVERY)
    services.deployment_rollback(deployment=live, actor=learner, reason="bad canary")
    assert refreshed == [("request", learner.pk), ("request", learner.pk), ("rollback", learner.pk)]
