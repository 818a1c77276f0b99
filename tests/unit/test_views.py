import re

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from sandbox.jobs.runners import FIRST_MODEL
from sandbox.models import Job

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_a_visitor_can_sign_up_and_is_logged_in(client: object) -> None:
    response = client.post(
        reverse("signup"),
        {"username": "newbie", "email": "", "password1": "a long passphrase 42", "password2": "a long passphrase 42"},
        follow=True,
    )
    assert response.status_code == 200
    assert response.context["user"].username == "newbie"
    assert b"Welcome to MLOps Lab, newbie." in response.content


def test_signup_shows_errors_and_creates_nothing(client: object) -> None:
    response = client.post(reverse("signup"), {"username": "x", "password1": "short", "password2": "other"})
    assert response.status_code == 200
    assert b"The two password fields" in response.content
    assert not User.objects.exists()


def test_log_in_and_log_out(client: object, learner: User) -> None:
    response = client.post(reverse("login"), {"username": "ada", "password": "correct horse battery"})
    assert response.status_code == 302
    assert client.get(reverse("sandbox:home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("sandbox:home")).status_code == 302


def test_password_change(learner_client: object, learner: User) -> None:
    response = learner_client.post(
        reverse("password_change"),
        {
            "old_password": "correct horse battery",
            "new_password1": "another fine phrase 7",
            "new_password2": "another fine phrase 7",
        },
    )
    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.check_password("another fine phrase 7")


def test_the_instructors_group_grants_the_authoring_permission(client: object, learner: User) -> None:
    assert not learner.has_perm("lessons.author_content")
    learner.groups.add(Group.objects.get(name="Instructors"))
    learner = User.objects.get(pk=learner.pk)
    assert learner.has_perm("lessons.author_content")
    client.force_login(learner)
    # The studio is the site's own, so an instructor who is not staff opens it from the navigation.
    page = client.get(reverse("sandbox:home")).content.decode()
    assert f'<a href="{reverse("studio:home")}">Studio</a>' in page
    assert f'<a href="{reverse("cohorts:list")}">Cohorts</a>' in page
    assert client.get(reverse("studio:home")).status_code == 200


def test_a_staff_instructor_opens_the_question_bank_in_the_admin(client: object, learner: User) -> None:
    learner.groups.add(Group.objects.get(name="Instructors"))
    learner.is_staff = True
    learner.save()
    client.force_login(learner)
    assert client.get(reverse("admin:lessons_question_changelist")).status_code == 200


def test_a_learner_sees_no_studio_link_and_is_refused_it(learner_client: object) -> None:
    assert b">Studio<" not in learner_client.get(reverse("sandbox:home")).content
    assert learner_client.get(reverse("studio:home")).status_code == 403


def test_the_sandbox_needs_a_login(client: object) -> None:
    response = client.get(reverse("sandbox:home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_page_sends_the_csrf_token_on_htmx_requests_and_loads_htmx_locally(learner_client: object) -> None:
    html = learner_client.get(reverse("sandbox:home")).content.decode()
    assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"\w+\"\}'>", html)
    assert '<script src="/static/vendor/htmx.min.js"' in html
    assert "http://" not in html
    assert "https://" not in html


def test_starting_a_job_over_htmx_returns_its_polling_fragment(
    learner_client: object, learner: User, celery_eager: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sandbox.jobs.services.transaction.on_commit", lambda callback: None)
    response = learner_client.post(reverse("sandbox:job_start"), {"epochs": 5, "seed": 0}, **HTMX)
    job = Job.objects.get()
    assert response.status_code == 200
    assert (job.owner, job.params) == (learner, {"epochs": 5, "seed": 0})
    html = response.content.decode()
    assert f'id="job-{job.pk}"' in html
    assert 'hx-trigger="every 700ms"' in html


@pytest.mark.parametrize(("epochs", "message"), [(0, "greater than or equal to 1"), (500, "less than or equal to 200")])
def test_bad_parameters_are_a_form_error_and_queue_nothing(
    learner_client: object, celery_eager: None, epochs: int, message: str
) -> None:
    response = learner_client.post(reverse("sandbox:job_start"), {"epochs": epochs, "seed": 0}, **HTMX)
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#start-form"
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_one_job_too_many_is_refused_with_429(learner_client: object, learner: User, celery_eager: None) -> None:
    for _ in range(3):
        Job.objects.create(owner=learner, kind=FIRST_MODEL)
    response = learner_client.post(reverse("sandbox:job_start"), {"epochs": 5, "seed": 0}, **HTMX)
    assert response.status_code == 429
    assert "already have 3 jobs queued or running" in response.content.decode()
    assert Job.objects.count() == 3


def test_without_redis_the_form_says_so_with_503(learner_client: object, closed_redis_url: str) -> None:
    response = learner_client.post(reverse("sandbox:job_start"), {"epochs": 5, "seed": 0})
    assert response.status_code == 503
    assert "job queue is not reachable" in response.content.decode()
    assert not Job.objects.exists()


def test_pages_render_while_redis_is_down(learner_client: object, closed_redis_url: str) -> None:
    for name in ("lessons:map", "lessons:glossary", "lessons:faq", "sandbox:home", "password_change"):
        assert learner_client.get(reverse(name)).status_code == 200


def test_a_running_job_keeps_polling_and_a_finished_one_stops_with_286(learner_client: object, learner: User) -> None:
    job = Job.objects.create(owner=learner, kind=FIRST_MODEL, status=Job.Status.RUNNING, progress=40)
    response = learner_client.get(reverse("sandbox:job", args=[job.pk]), **HTMX)
    assert response.status_code == 200
    assert b'value="40"' in response.content
    assert b"hx-trigger" in response.content

    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="The worker stopped responding.")
    response = learner_client.get(reverse("sandbox:job", args=[job.pk]), **HTMX)
    assert response.status_code == 286
    assert b"hx-trigger" not in response.content
    assert b"The worker stopped responding." in response.content


def test_a_succeeded_job_page_shows_its_learning_curve(learner_client: object, learner: User) -> None:
    epochs = [{"epoch": n, "train_accuracy": 0.9, "validation_accuracy": 0.95} for n in (1, 2)]
    job = Job.objects.create(
        owner=learner,
        kind=FIRST_MODEL,
        status=Job.Status.SUCCEEDED,
        progress=100,
        result={"epochs": epochs, "test_accuracy": 0.9649},
    )
    html = learner_client.get(reverse("sandbox:job", args=[job.pk])).content.decode()
    assert "Test accuracy <strong>0.965</strong> after 2 epochs." in html
    assert '<script type="application/json" id="figure-' in html
    assert '"name":"validation"' in html
    assert "Plotly.newPlot" not in html  # no inline script: the page's policy would block it
    assert "/static/vendor/plotly-strict.min.js" in html


def test_another_learners_job_is_not_found(client: object, learner: User, other_learner: User) -> None:
    job = Job.objects.create(owner=other_learner, kind=FIRST_MODEL)
    client.force_login(learner)
    assert client.get(reverse("sandbox:job", args=[job.pk])).status_code == 404
    assert client.get(reverse("sandbox:job", args=[job.pk]), **HTMX).status_code == 404


def test_unknown_urls_get_the_styled_404_without_a_traceback(client: object, settings: object) -> None:
    settings.DEBUG = False
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"There is nothing at this address" in response.content
    assert b"Traceback" not in response.content


def test_a_server_error_gets_the_styled_500(client: object, settings: object) -> None:
    settings.DEBUG = False
    client.raise_request_exception = False
    settings.ROOT_URLCONF = "tests.unit.broken_urls"
    response = client.get("/boom/")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b"ZeroDivisionError" not in response.content


# Not inside a test transaction: that would hold the write lock the health check asks for.
@pytest.mark.django_db(transaction=True)
def test_healthz_reports_redis_down_with_503_quickly(client: object, closed_redis_url: str) -> None:
    response = client.get(reverse("healthz"))
    body = response.json()
    assert response.status_code == 503
    assert body["database"] == "ok"
    assert body["redis"] == "error"
    assert body["seconds"] < 2
