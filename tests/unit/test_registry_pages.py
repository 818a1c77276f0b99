"""The registry's pages and the gate, run eagerly: register from a run, promote, read the checklist, override,
ask the as-of question, and the refusals each answers with."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lessons.challenges import challenge_status
from sandbox.models import AliasEvent, Dataset, ModelAlias, ModelVersion, Validation
from sandbox.registry import selectors
from sandbox.registry import services as registry
from tests.unit.test_registry_services import cancer_dataset, trained_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def cancer(learner: User, settings: object, tmp_path: object) -> Dataset:
    return cancer_dataset(learner, settings, tmp_path)


def _register(client: Client, run_id: int, **data: object) -> ModelVersion:
    response = client.post(reverse("sandbox:model_register", args=[run_id]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return ModelVersion.objects.order_by("-pk").first()


def _promote(
    client: Client, version: ModelVersion, capture: object, *, tolerance: float = 0.01, limit: float = 1000
) -> Validation:
    url = reverse("sandbox:model_version_action", args=[version.registered_model_id, version.number, "promote"])
    with capture(execute=True):
        response = client.post(url, {"tolerance": tolerance, "latency_limit_ms": limit, "reason": "better"})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Validation.objects.order_by("-pk").first()


def test_register_promote_fail_override_and_ask_as_of(
    learner_client: Client,
    cancer: Dataset,
    celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:
    good, weak = trained_run(cancer, seed=1, C=1.0), trained_run(cancer, seed=1, C=0.0001)
    run_page = learner_client.get(reverse("sandbox:run", args=[good.pk])).content.decode()
    assert "Register this model" in run_page
    v1 = _register(learner_client, good.pk, name="cancer")
    v2 = _register(learner_client, weak.pk, model=v1.registered_model_id)
    assert (v1.number, v2.number) == (1, 2)
    model_id = v1.registered_model_id

    first = _promote(learner_client, v1, django_capture_on_commit_callbacks)
    first.refresh_from_db()
    assert first.status == Validation.Status.PASSED, first.checks
    assert [check["key"] for check in first.checks] == ["integrity", "test_split", "golden", "schema", "latency"]
    assert ModelAlias.objects.get(alias="champion").version == v1

    second = _promote(learner_client, v2, django_capture_on_commit_callbacks, tolerance=0.0)
    second.refresh_from_db()
    failed = {check["key"] for check in second.checks if not check["passed"]}
    assert second.status == Validation.Status.FAILED
    assert second.outcome == Validation.Outcome.BLOCKED
    assert "golden" in failed
    assert ModelAlias.objects.get(alias="champion").version == v1
    page = learner_client.get(reverse("sandbox:model_version", args=[model_id, 2])).content.decode()
    assert "Promote anyway" in page
    assert "Fail" in page

    override = reverse("sandbox:model_version_action", args=[model_id, 2, "override"])
    assert learner_client.post(override, {"validation": second.pk, "reason": ""}).status_code == 422
    response = learner_client.post(override, {"validation": second.pk, "reason": "accepted for the demo"})
    assert response.status_code == 302
    assert ModelAlias.objects.get(alias="champion").version == v2
    event = AliasEvent.objects.order_by("-pk").first()
    assert (event.gate, event.reason, event.from_version, event.to_version) == (
        "overridden",
        "accepted for the demo",
        v1,
        v2,
    )
    assert learner_client.post(override, {"validation": second.pk, "reason": "again"}).status_code == 409

    model_page = reverse("sandbox:model", args=[model_id])
    html = learner_client.get(model_page).content.decode()
    assert "failed, overridden" in html
    assert "accepted for the demo" in html
    when = timezone.localtime(first.finished_at).strftime("%Y-%m-%dT%H:%M:%S")
    answer = learner_client.get(model_page, {"alias": "champion", "when": "2000-01-01T00:00:00"}).content.decode()
    assert "did not exist yet" in answer
    answer = learner_client.get(model_page, {"alias": "champion", "when": "2999-01-01T00:00"}).content.decode()
    assert "version 2</strong>" in answer
    assert learner_client.get(model_page, {"alias": "champion", "when": when}).status_code == 200
    assert learner_client.get(model_page, {"alias": "champion", "when": "yesterday"}).status_code == 422

    lineage = learner_client.get(reverse("sandbox:model_version_lineage", args=[model_id, 1])).content.decode()
    assert reverse("sandbox:run", args=[good.pk]) in lineage
    assert reverse("sandbox:dataset_version", args=[cancer.pk, 1]) in lineage
    assert v1.code_version in lineage


def test_the_challenge_is_met_by_promoting_over_a_champion_through_the_gate(
    learner: User,
    cancer: Dataset,
    celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:
    def check(user: User) -> object:
        return challenge_status("registry.promote-alias", user)

    v1 = registry.model_version_register(run=trained_run(cancer, seed=1, C=0.01), model_name="m")
    assert [met for _, met in check(learner).steps] == [False, False, False]
    v2 = registry.model_version_register(run=trained_run(cancer, seed=1, C=1.0), model_name="m")
    with django_capture_on_commit_callbacks(execute=True):
        registry.model_version_promote(version=v1, actor=learner, latency_limit_ms=1000)
    assert [met for _, met in check(learner).steps] == [True, True, False]
    with django_capture_on_commit_callbacks(execute=True):
        validation = registry.model_version_promote(version=v2, actor=learner, latency_limit_ms=1000)
    validation.refresh_from_db()
    assert validation.status == Validation.Status.PASSED, validation.checks
    assert [met for _, met in check(learner).steps] == [True, True, True]


def test_a_tampered_model_file_fails_the_gate_without_moving_anything(
    learner: User,
    cancer: Dataset,
    celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    version = registry.model_version_register(run=trained_run(cancer), model_name="m")
    default_storage.delete(version.model_file)
    default_storage.save(version.model_file, ContentFile(b"tampered"))
    with django_capture_on_commit_callbacks(execute=True):
        validation = registry.model_version_promote(version=version, actor=learner)
    validation.refresh_from_db()
    assert validation.status == Validation.Status.FAILED
    assert validation.checks[0]["key"] == "integrity"
    assert "SHA-256" in validation.checks[0]["detail"]
    assert not ModelAlias.objects.exists()


def test_bad_input_answers_with_a_form_error_or_4xx_and_changes_nothing(
    learner_client: Client,
    cancer: Dataset,
    other_learner: User,
) -> None:
    v1 = registry.model_version_register(run=trained_run(cancer), model_name="m")
    model_id = v1.registered_model_id
    alias_url = reverse("sandbox:model_action", args=[model_id, "alias"])
    assert learner_client.post(alias_url, {"alias": "latest", "version": 1}).status_code == 422
    assert learner_client.post(alias_url, {"alias": "champion", "version": 1}).status_code == 409
    assert learner_client.post(alias_url, {"alias": "challenger", "version": 7}).status_code == 422
    tag_url = reverse("sandbox:model_action", args=[model_id, "tag"])
    assert learner_client.post(tag_url, {"key": "../up", "value": "x"}).status_code == 422
    delete_url = reverse("sandbox:model_action", args=[model_id, "alias-delete"])
    assert learner_client.post(delete_url, {"alias": "nope"}).status_code == 404
    failed = trained_run(cancer, status="failed")
    assert learner_client.post(reverse("sandbox:model_register", args=[failed.pk]), {"name": "m"}).status_code == 409
    assert not ModelAlias.objects.exists()
    assert not AliasEvent.objects.exists()
    assert ModelVersion.objects.count() == 1
    theirs = registry.registered_model_create(owner=other_learner, name="theirs")
    assert learner_client.get(reverse("sandbox:model", args=[theirs.pk])).status_code == 404
    register = reverse("sandbox:model_register", args=[failed.pk])
    assert learner_client.post(register, {"model": theirs.pk}).status_code == 422


def test_the_registry_pages_cost_the_same_queries_with_more_versions_and_events(
    learner_client: Client, learner: User, cancer: Dataset
) -> None:
    run = trained_run(cancer)

    def grow(count: int) -> ModelVersion:
        for _ in range(count):
            version = registry.model_version_register(run=run, model_name="m")
            registry.model_alias_set(
                registered_model=version.registered_model, alias="challenger", version=version, actor=learner
            )
            registry.model_version_set_tag(version=version, key="k", value="v")
        return version

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert learner_client.get(url).status_code == 200
        return len(captured)

    version = grow(2)
    model_id = version.registered_model_id
    pages = [
        reverse("sandbox:models"),
        reverse("sandbox:model", args=[model_id]),
        reverse("sandbox:model", args=[model_id]) + "?alias=challenger&when=2999-01-01T00:00:00",
        reverse("sandbox:model_version", args=[model_id, 1]),
        reverse("sandbox:model_version_lineage", args=[model_id, 1]),
    ]
    learner_client.get(pages[0])  # warm: the learner's presence written, as a running site has it
    few = [queries(url) for url in pages]
    grow(6)
    assert [queries(url) for url in pages] == few


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plans")
def test_the_challenge_check_seeks_indexes_and_reads_no_table_whole(learner: User, cancer: Dataset) -> None:
    registry.model_version_register(run=trained_run(cancer), model_name="m")
    with CaptureQueriesContext(connection) as captured:
        challenge_status("registry.promote-alias", learner)
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            plans += [row[-1] for row in cursor.fetchall()]
    assert len(captured.captured_queries) == 3
    scans = [step for step in plans if step.startswith("SCAN")]
    assert not scans, plans


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plans")
def test_the_as_of_answer_is_one_seek_on_the_alias_event_index(learner: User, cancer: Dataset) -> None:
    version = registry.model_version_register(run=trained_run(cancer), model_name="m")
    model = version.registered_model
    registry.model_alias_set(registered_model=model, alias="challenger", version=version, actor=learner)
    with CaptureQueriesContext(connection) as captured:
        answer = selectors.alias_as_of(registered_model=model, alias="challenger", when=timezone.now())
    assert answer.version == version
    assert len(captured.captured_queries) == 1
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + captured.captured_queries[0]["sql"])
        plan = [row[-1] for row in cursor.fetchall()]
    assert any("alias_event_as_of" in step for step in plan), plan
    assert not [step for step in plan if step.startswith("SCAN") or "TEMP B-TREE" in step], plan
