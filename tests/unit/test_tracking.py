import html

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from mlopslab.refusals import Refused
from sandbox.datasets import services as dataset_services
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.ml import training
from sandbox.models import Dataset, DatasetVersion, Experiment, Job, Run
from sandbox.tracking import selectors as tracking_selectors
from sandbox.tracking import services as tracking

pytestmark = pytest.mark.django_db
SMALL_CHURN = {"rows": 400, "noise": 0.05, "churn_rate": 0.3, "missing_rate": 0.02, "seed": 1}


@pytest.fixture
def churn(learner: User, settings: object, tmp_path: object) -> Dataset:
    settings.MEDIA_ROOT = tmp_path / "media"
    return dataset_services.dataset_create_churn(owner=learner, name="churn", settings=SMALL_CHURN)


@pytest.fixture
def experiment(churn: Dataset) -> Experiment:
    return Experiment.objects.create(owner=churn.owner, name="baseline", dataset=churn)


def _config(
    algorithm: str = "logistic_regression", seed: int = 42, cv_folds: int = 0, **params: object
) -> tracking.RunConfig:
    return tracking.RunConfig(algorithm, params, training.Preparation(), training.Split(cv_folds=cv_folds), seed)


def _train(experiment: Experiment, capture: object, **kwargs: object) -> Run:
    with capture(execute=True):
        version = experiment.dataset.versions.order_by("-number").first()
        run = tracking.run_create(experiment=experiment, version=version, config=_config(**kwargs))
    run.refresh_from_db()
    return run


def test_pages_render_through_a_whole_tracking_session(
    learner_client: Client, experiment: Experiment, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    first = _train(experiment, django_capture_on_commit_callbacks, C=1.0)
    second = _train(
        experiment, django_capture_on_commit_callbacks, algorithm="random_forest", n_estimators=20, max_depth=4
    )
    assert first.status == second.status == Run.Status.SUCCEEDED, (first.error, second.error)
    for url in (
        reverse("sandbox:datasets"),
        reverse("sandbox:dataset", args=[experiment.dataset.pk]),
        reverse("sandbox:dataset_version", args=[experiment.dataset.pk, 1]),
        reverse("sandbox:experiments"),
        reverse("sandbox:experiment", args=[experiment.pk]),
        reverse("sandbox:run", args=[first.pk]),
        reverse("sandbox:compare", args=[experiment.pk]) + f"?runs={first.pk}&runs={second.pk}",
    ):
        response = learner_client.get(url)
        assert response.status_code == 200, url


def test_a_run_records_metrics_environment_and_its_model_file(
    experiment: Experiment, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    from django.core.files.storage import default_storage

    run = _train(experiment, django_capture_on_commit_callbacks)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.model_file == f"runs/{run.pk}/model.joblib"
    assert default_storage.exists(run.model_file)
    assert set(run.environment) == {"python", "scikit-learn", "pandas", "numpy", "code"}
    assert "val_f1" in run.metrics
    assert "test_f1" in run.test_metrics
    assert run.test_revealed_at is None
    assert run.job.status == Job.Status.SUCCEEDED


def test_bad_parameters_queue_nothing(experiment: Experiment, celery_eager: None) -> None:
    version = experiment.dataset.versions.get()
    with pytest.raises(tracking.RunRefused, match="C must be between"):
        tracking.run_create(experiment=experiment, version=version, config=_config(C=-1))
    with pytest.raises(tracking.RunRefused, match="is for regression"):
        tracking.run_create(experiment=experiment, version=version, config=_config(algorithm="ridge"))
    assert not Run.objects.exists()
    assert not Job.objects.exists()


def test_a_full_queue_refuses_the_run_and_saves_nothing(experiment: Experiment, celery_eager: None) -> None:
    for _ in range(3):
        Job.objects.create(owner=experiment.owner, kind=FIRST_MODEL)
    with pytest.raises(Refused, match="already have 3 jobs") as refused:
        tracking.run_create(experiment=experiment, version=experiment.dataset.versions.get(), config=_config())
    assert refused.value.status == 429
    assert not Run.objects.exists()


def test_a_sweep_is_separate_runs_trained_by_one_job(
    experiment: Experiment, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    version = experiment.dataset.versions.get()
    with django_capture_on_commit_callbacks(execute=True):
        runs = tracking.sweep_create(
            experiment=experiment, version=version, base=_config("decision_tree"), grid={"max_depth": [2, 4, 6]}
        )
    assert [r.params["max_depth"] for r in runs] == [2, 4, 6]
    assert Job.objects.count() == 1
    assert set(Run.objects.values_list("status", flat=True)) == {Run.Status.SUCCEEDED}
    with pytest.raises(tracking.RunRefused, match="13 combinations; a sweep may have at most 12"):
        tracking.sweep_create(
            experiment=experiment, version=version, base=_config("decision_tree"),
            grid={"max_depth": list(range(1, 14))},
        )  # fmt: skip


def test_logged_params_cannot_change(experiment: Experiment, celery_eager: None) -> None:
    run = tracking.run_create(experiment=experiment, version=experiment.dataset.versions.get(), config=_config())
    run.params = {**run.params, "C": 2.0}
    with pytest.raises(ValueError, match="cannot change once logged"):
        run.save()
    tracking.run_set_tag(run=run, key="team", value="retention")
    tracking.run_set_note(run=run, note="baseline")
    run.refresh_from_db()
    assert (run.tags, run.note, run.params["C"]) == ({"team": "retention"}, "baseline", 1.0)


def test_a_replay_reproduces_the_metrics_exactly(
    learner_client: Client, experiment: Experiment, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    original = _train(experiment, django_capture_on_commit_callbacks, algorithm="random_forest", n_estimators=15)
    with django_capture_on_commit_callbacks(execute=True):
        response = learner_client.post(reverse("sandbox:run_action", args=[original.pk, "replay"]))
    replay = Run.objects.get(replay_of=original)
    assert response.url == reverse("sandbox:run", args=[replay.pk])
    assert tracking_selectors.replay_matches(replay) is True
    assert replay.metrics == original.metrics
    assert "metrics match exactly" in learner_client.get(response.url).content.decode()
    from lessons.challenges import challenge_status

    assert challenge_status("governance.replay-run", experiment.owner).met


def test_the_test_score_stays_sealed_until_revealed(
    learner_client: Client, experiment: Experiment, celery_eager: None, django_capture_on_commit_callbacks: object
) -> None:
    run = _train(experiment, django_capture_on_commit_callbacks)
    page = learner_client.get(reverse("sandbox:run", args=[run.pk])).content.decode()
    assert "test_f1" not in page
    learner_client.post(reverse("sandbox:run_action", args=[run.pk, "reveal"]))
    page = learner_client.get(reverse("sandbox:run", args=[run.pk])).content.decode()
    assert "test_f1" in page


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("params.max_depth = 2", {"tree-2"}),
        ("params.max_depth >= 4 and algorithm = decision_tree", {"tree-4", "tree-6"}),
        ("tags.pick = yes", {"tree-6"}),
        ("", {"tree-2", "tree-4", "tree-6"}),
    ],
)
def test_the_runs_table_filters_like_mlflow(experiment: Experiment, text: str, names: set) -> None:
    from sandbox.tracking import selectors

    version = experiment.dataset.versions.get()
    for depth in (2, 4, 6):
        Run.objects.create(
            experiment=experiment, owner=experiment.owner, dataset_version=version, name=f"tree-{depth}",
            algorithm="decision_tree", params={"max_depth": depth}, seed=1, metrics={"val_f1": depth / 10},
            status=Run.Status.SUCCEEDED, tags={"pick": "yes"} if depth == 6 else {},
        )  # fmt: skip
    table = selectors.runs_table(experiment=experiment, filter_text=text)
    assert {r.name for r in table.runs} == names
    assert table.total == len(names)
    runs = selectors.runs_table(experiment=experiment, sort="-metrics.val_f1").runs
    assert [r.name for r in runs] == ["tree-6", "tree-4", "tree-2"]
    assert (table.param_names, table.metric_names) == (["max_depth"], ["val_f1"])


@pytest.mark.parametrize("text", ["metrics.val_f1 >> 1", "colour = red", "algorithm > 3"])
def test_an_unreadable_filter_is_a_clear_422(learner_client: Client, experiment: Experiment, text: str) -> None:
    Run.objects.create(
        experiment=experiment, owner=experiment.owner, dataset_version=experiment.dataset.versions.get(),
        name="r", algorithm="decision_tree", params={}, seed=1, status=Run.Status.SUCCEEDED,
    )  # fmt: skip
    response = learner_client.get(reverse("sandbox:experiment", args=[experiment.pk]), {"filter": text})
    assert response.status_code == 422
    assert 'class="form-errors" role="alert"' in response.content.decode()


def test_comparing_needs_two_to_ten_finished_runs_of_the_experiment(
    learner_client: Client, experiment: Experiment
) -> None:
    version = experiment.dataset.versions.get()
    runs = [
        Run.objects.create(
            experiment=experiment,
            owner=experiment.owner,
            dataset_version=version,
            name=f"r{n}",
            algorithm="decision_tree",
            params={"max_depth": n, "criterion": "gini"},
            seed=1,
            metrics={"val_f1": 0.5 + n / 100},
            status=Run.Status.SUCCEEDED,
        )
        for n in range(3)
    ]
    url = reverse("sandbox:compare", args=[experiment.pk])
    recorded = learner_client.post(url, {"runs": [r.pk for r in runs]})
    assert recorded.status_code == 302
    response = learner_client.get(recorded["Location"])
    html = response.content.decode()
    assert response.status_code == 200
    assert '<tr class="is-different"><th scope="row">max_depth</th>' in html
    assert '<tr class="is-same"><th scope="row">criterion</th>' in html
    assert "Parcoords" in html or "parcoords" in html
    assert Experiment.objects.get(pk=experiment.pk).compared_run_ids == [r.pk for r in runs]
    assert learner_client.get(url, {"runs": [runs[0].pk]}).status_code == 302
    assert learner_client.get(url, {"runs": [runs[0].pk, 999999]}).status_code == 302
    assert learner_client.post(url, {"runs": [runs[0].pk, 999999]}).status_code == 302
    assert Experiment.objects.get(pk=experiment.pk).compared_run_ids == [r.pk for r in runs]


def test_showing_a_comparison_records_nothing(learner_client: Client, experiment: Experiment) -> None:
    runs = [
        Run.objects.create(
            experiment=experiment, owner=experiment.owner, dataset_version=experiment.dataset.versions.get(),
            name=f"r{n}", algorithm="decision_tree", params={"max_depth": n}, seed=1, status=Run.Status.SUCCEEDED,
        )
        for n in range(2)
    ]  # fmt: skip
    url = reverse("sandbox:compare", args=[experiment.pk])
    assert learner_client.get(url, {"runs": [r.pk for r in runs]}).status_code == 200
    assert Experiment.objects.get(pk=experiment.pk).compared_run_ids == []


def test_a_bad_upload_is_a_form_error_that_saves_nothing(
    learner_client: Client, settings: object, tmp_path: object
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("../../etc/passwd.csv", b"a,b,c\n1,2,3\n4,5\n", content_type="text/csv")
    response = learner_client.post(
        reverse("sandbox:dataset_create", args=["upload"]), {"name": "mine", "target": "c", "file": upload}
    )
    assert response.status_code == 422
    assert "Row 3 has 2 fields, expected 3." in response.content.decode()
    assert not Dataset.objects.exists()
    assert not any(tmp_path.iterdir())


def test_a_good_upload_becomes_a_versioned_dataset_stored_under_the_apps_own_name(
    learner_client: Client, settings: object, tmp_path: object
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    rows = "\n".join(f"{i},{i % 3},{'yes' if i % 2 else 'no'}" for i in range(60))
    upload = SimpleUploadedFile("../evil name.csv", f"\ufeffx,group,label\n{rows}\n".encode(), content_type="text/csv")
    response = learner_client.post(
        reverse("sandbox:dataset_create", args=["upload"]), {"name": "mine", "target": "label", "file": upload}
    )
    dataset = Dataset.objects.get()
    assert response.status_code == 302
    version = dataset.versions.get()
    assert (dataset.task, version.rows, version.columns) == ("classification", 60, 3)
    assert version.file == f"datasets/{dataset.owner_id}/{version.pk}.csv"
    missing = SimpleUploadedFile("d.csv", b"x,y\n1,2\n3,4\n")
    response = learner_client.post(
        reverse("sandbox:dataset_create", args=["upload"]), {"name": "other", "target": "z", "file": missing}
    )
    assert "There is no column 'z'; the columns are 'x', 'y'." in html.unescape(response.content.decode())


def test_the_same_churn_settings_give_the_same_version_and_new_ones_a_new_version(
    learner_client: Client, churn: Dataset
) -> None:
    url = reverse("sandbox:dataset_version_add", args=[churn.pk])
    response = learner_client.post(url, SMALL_CHURN, follow=True)
    assert "same content, same version" in response.content.decode()
    assert churn.versions.count() == 1
    learner_client.post(url, {**SMALL_CHURN, "noise": 0.2})
    assert list(churn.versions.values_list("number", flat=True)) == [2, 1]
    assert DatasetVersion.objects.filter(dataset=churn).values("content_hash").distinct().count() == 2


def test_another_learners_sandbox_objects_are_not_found(
    client: Client, other_learner: User, experiment: Experiment
) -> None:
    run = Run.objects.create(
        experiment=experiment, owner=experiment.owner, dataset_version=experiment.dataset.versions.get(),
        name="r", algorithm="decision_tree", params={}, seed=1,
    )  # fmt: skip
    client.force_login(other_learner)
    for url in (
        reverse("sandbox:dataset", args=[experiment.dataset.pk]),
        reverse("sandbox:dataset_version", args=[experiment.dataset.pk, 1]),
        reverse("sandbox:experiment", args=[experiment.pk]),
        reverse("sandbox:run", args=[run.pk]),
        reverse("sandbox:compare", args=[experiment.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("sandbox:run_action", args=[run.pk, "replay"])).status_code == 404
    assert client.post(reverse("sandbox:run_create", args=[experiment.pk]), {}).status_code == 404


def test_a_failed_job_fails_its_runs(experiment: Experiment, celery_eager: None) -> None:
    from sandbox.jobs import services

    run = tracking.run_create(experiment=experiment, version=experiment.dataset.versions.get(), config=_config())
    services.job_fail(job_id=run.job_id, error="The worker stopped responding.")
    run.refresh_from_db()
    assert (run.status, run.error) == (Run.Status.FAILED, "The worker stopped responding.")


def test_the_challenges_follow_the_learners_sandbox(
    learner: User, learner_client: Client, experiment: Experiment, celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:  # fmt: skip
    from lessons.challenges import challenge_status

    assert not challenge_status("data.two-versions", learner).met
    dataset_services.churn_version_add(dataset=experiment.dataset, settings={**SMALL_CHURN, "seed": 9})
    assert challenge_status("data.two-versions", learner).met

    assert not challenge_status("prep.pipeline-run", learner).met
    runs = [_train(experiment, django_capture_on_commit_callbacks, C=c) for c in (0.1, 1.0, 10.0)]
    assert challenge_status("prep.pipeline-run", learner).met
    status = challenge_status("tracking.compare-runs", learner)
    assert status.steps[0][1]
    assert not status.met
    learner_client.post(reverse("sandbox:compare", args=[experiment.pk]), {"runs": [r.pk for r in runs]})
    assert challenge_status("tracking.compare-runs", learner).met


def test_the_f1_gate_allows_one_look_at_the_test_split(
    learner: User, celery_eager: None, django_capture_on_commit_callbacks: object, settings: object, tmp_path: object
) -> None:
    from lessons.challenges import challenge_status

    settings.MEDIA_ROOT = tmp_path
    cancer = dataset_services.dataset_create_builtin(owner=learner, name="breast_cancer")
    experiment = Experiment.objects.create(owner=learner, name="gate", dataset=cancer)
    first = _train(experiment, django_capture_on_commit_callbacks, C=1.0)
    second = _train(experiment, django_capture_on_commit_callbacks, C=0.1)
    assert not challenge_status("testing.f1-gate", learner).met
    tracking.run_reveal_test(run=first)
    assert first.test_metrics["test_f1"] >= 0.95
    assert challenge_status("testing.f1-gate", learner).met
    tracking.run_reveal_test(run=second)
    assert not challenge_status("testing.f1-gate", learner).met


def test_an_oversized_upload_is_refused_before_it_is_read(learner_client: Client) -> None:
    response = learner_client.post(
        reverse("sandbox:dataset_create", args=["upload"]),
        data=b"x" * 100,
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert "larger than 10 MB" in response.content.decode()
    assert not Dataset.objects.exists()
