"""Monitoring's forms and pages: bad input answered in place (422) changing nothing, the mystery from its start to
stage 8's challenge, the policy form, a manual retraining, and a traffic run's progress that stops polling."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from lessons.challenges import challenge_status
from sandbox.jobs.models import Job
from sandbox.models import Deployment, DriftPolicy, DriftReport, ModelVersion, TrafficRun
from sandbox.monitoring import services
from tests.unit import test_serving_setup as setup

cancer, jobs_now, live, v1 = setup.cancer, setup.jobs_now, setup.live, setup.v1

pytestmark = pytest.mark.django_db


def _prefixed(prefix: str, fields: dict) -> dict:
    """A form's fields as the dashboard posts them: each of its forms has a prefix of its own."""
    return {f"{prefix}-{name}": value for name, value in fields.items()}


@pytest.fixture(autouse=True)
def _small_mysteries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "MYSTERY_REQUESTS", 300)
    monkeypatch.setattr(services, "MYSTERY_RATE", 5000.0)
    monkeypatch.setattr("sandbox.monitoring.traffic.MAX_RATE", 5000.0)


@pytest.fixture
def signed_in(learner: User) -> Client:
    client = Client()
    client.force_login(learner)
    return client


def test_a_traffic_form_with_bad_input_answers_422_in_place_and_queues_nothing(
    signed_in: Client, live: Deployment
) -> None:
    url = f"/sandbox/deployments/{live.pk}/traffic/"
    base = {"requests": "100", "rate": "10", "scenario": "data", "onset": "sudden", "drift_from": "10",
            "label_delay": "0"}  # fmt: skip
    for data, message in [
        ({**base, "requests": "0", "scenario": "none"}, "greater than or equal to 1"),
        (base, "Choose the feature"),
        ({**base, "drift_from": "500", "feature": "mean radius", "shift": "1"}, "after the last"),
        ({**base, "scenario": "label", "balance_class": "7"}, "not a class"),
    ]:
        response = signed_in.post(url, _prefixed("traffic", data))
        assert response.status_code == 422, response.content[:300]
        assert message in response.content.decode()
    assert not TrafficRun.objects.exists()
    assert not Job.objects.filter(kind=services.TRAFFIC).exists()


def test_a_mystery_hides_its_feature_until_answered_and_meets_stage_eight(
    learner: User, signed_in: Client, live: Deployment, jobs_now: Callable, v1: ModelVersion
) -> None:
    response = jobs_now(signed_in.post, path=f"/sandbox/deployments/{live.pk}/mystery/")
    assert response.status_code == 302
    run = TrafficRun.objects.get()
    feature = next(iter(run.settings["shift"]))
    page = signed_in.get(f"/sandbox/traffic/{run.pk}/").content.decode()
    assert "Name the drifted feature" in page
    # The answer is nowhere on the page before the learner answers (the form lists every input alike).
    other = next(name for name in services.input_names(v1) if name != feature)
    assert page.count(feature) == page.count(other) == 2
    assert run.settings.__repr__() not in page
    status = challenge_status("monitoring.drift-report", learner)
    assert [done for _, done in status.steps] == [False, False]
    jobs_now(services.report_start, owner=learner, deployment=live, window=300)
    report = DriftReport.objects.get()
    flagged = [column["column"] for column in report.result["columns"] if column["drifted"]]
    assert feature in flagged
    wrong = next(name for name in services.input_names(v1) if name != feature)
    response = signed_in.post(f"/sandbox/traffic/{run.pk}/guess/", {"guess-feature": wrong})
    assert response.status_code == 302
    page = signed_in.get(f"/sandbox/traffic/{run.pk}/").content.decode()
    assert f"it was <strong>{feature}</strong>" in page
    assert signed_in.post(f"/sandbox/traffic/{run.pk}/guess/", {"guess-feature": feature}).status_code == 409
    jobs_now(signed_in.post, path=f"/sandbox/deployments/{live.pk}/mystery/")
    second = TrafficRun.objects.order_by("-pk").first()
    right = next(iter(second.settings["shift"]))
    signed_in.post(f"/sandbox/traffic/{second.pk}/guess/", {"guess-feature": right})
    status = challenge_status("monitoring.drift-report", learner)
    assert [done for _, done in status.steps] == [True, True]


def test_another_learner_finds_no_traffic_run(
    learner: User, other_learner: User, live: Deployment, jobs_now: Callable
) -> None:
    run = jobs_now(services.traffic_start, owner=learner, deployment=live, requests=5, rate=100)
    client = Client()
    client.force_login(other_learner)
    assert client.get(f"/sandbox/traffic/{run.pk}/").status_code == 404
    assert client.post(f"/sandbox/traffic/{run.pk}/guess/", {"guess-feature": "x"}).status_code == 404
    assert client.post(f"/sandbox/deployments/{live.pk}/traffic/", {"traffic-requests": "5"}).status_code == 404


def test_a_finished_runs_progress_stops_polling(learner: User, signed_in: Client, live: Deployment, jobs_now: Callable):
    run = jobs_now(services.traffic_start, owner=learner, deployment=live, requests=5, rate=100)
    response = signed_in.get(f"/sandbox/traffic/{run.pk}/?fragment=progress", HTTP_HX_REQUEST="true")
    assert response.status_code == 286
    assert "hx-trigger" not in response.content.decode()
    assert "5 of 5 sent" in response.content.decode()


def test_the_policy_form_saves_and_refuses_in_place(signed_in: Client, live: Deployment) -> None:
    url = f"/sandbox/deployments/{live.pk}/policy/"
    fields = {"enabled": "on", "window": "500", "drift_share": "0.5", "canary_percent": "20", "promote_after": "50"}
    response = signed_in.post(url, _prefixed("policy", fields))
    assert response.status_code == 422
    assert "Say when to check" in response.content.decode()
    assert not DriftPolicy.objects.exists()
    fields = {**fields, "every_requests": "200", "window": "400", "drift_share": "0.3", "retrain": "on",
              "canary_percent": "25", "promote_after": "40"}  # fmt: skip
    response = signed_in.post(url, _prefixed("policy", fields))
    assert response.status_code == 302
    policy = DriftPolicy.objects.get()
    assert (policy.every_requests, policy.window, policy.retrain, policy.canary_percent) == (200, 400, True, 25)
    page = signed_in.get(f"/sandbox/deployments/{live.pk}/monitor/").content.decode()
    assert "after every 200 requests" in page


def test_a_manual_retraining_without_labels_is_queued_and_fails_with_its_reason(
    signed_in: Client, live: Deployment, jobs_now: Callable
) -> None:
    url = f"/sandbox/deployments/{live.pk}/retrain/"
    response = signed_in.post(url, {"retrain-rows": "10", "retrain-canary_percent": "20"})
    assert response.status_code == 422
    response = jobs_now(signed_in.post, path=url, data={"retrain-rows": "1000", "retrain-canary_percent": "20"})
    assert response.status_code == 302
    job = Job.objects.get(kind=services.RETRAIN)
    assert job.status == Job.Status.FAILED
    assert "Only 0 requests have labels" in job.error


def test_a_drills_hidden_traffic_is_no_mystery_and_gives_nothing_away(
    learner: User, signed_in: Client, live: Deployment
) -> None:
    from sandbox.models import Drill

    drill = Drill.objects.create(owner=learner, deployment=live, version=live.stable_version, fault="data_drift")
    run = TrafficRun.objects.create(
        owner=learner, deployment=live, requests=10, rate=10, scenario="data", hidden=True,
        settings={"shift": {"mean radius": 2.0}, "drill": drill.pk},
    )  # fmt: skip
    page = signed_in.get(f"/sandbox/traffic/{run.pk}/").content.decode()
    assert "Drill traffic" in page
    assert f"/sandbox/drills/{drill.pk}/" in page
    assert "Name the drifted feature" not in page
    assert "mean radius" not in page
    response = signed_in.post(f"/sandbox/traffic/{run.pk}/guess/", {"guess-feature": "mean radius"})
    assert response.status_code == 409
    run.refresh_from_db()
    assert run.guessed_at is None


def test_a_report_with_a_bad_threshold_answers_in_place_keeping_the_chosen_test(
    signed_in: Client, live: Deployment
) -> None:
    url = f"/sandbox/deployments/{live.pk}/drift/"
    response = signed_in.post(url, _prefixed("report", {"window": "100", "drift_share": "0.5", "test_0": "psi",
                                                      "threshold_0": "-1"}))  # fmt: skip
    assert response.status_code == 422
    html = response.content.decode()
    assert 'name="report-test_0" id="id_report-test_0"><option value="">' in html
    assert '<option value="psi" selected>' in html
    assert 'value="-1"' in html
    assert "greater than or equal to 0.0001" in html
    assert not DriftReport.objects.exists()


def test_the_per_column_tests_escape_column_names() -> None:
    from sandbox.monitoring.forms import ReportForm

    html = str(ReportForm(inputs=["<b>x</b>", 'a"b']).test_rows())
    assert "<b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert html.count("<fieldset") == 2
