"""The RAG evaluation sandbox's pages: forms and their 422s, privacy, the queue's refusals, failed jobs, the gate
and the challenge, with jobs run in-process (eagerly) as the other capabilities' unit tests run them."""

import html
import threading
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.urls import reverse

from lessons.challenges import challenge_status
from sandbox.jobs.runners import FIRST_MODEL
from sandbox.jobs.services import QUEUE_UNREACHABLE, job_fail
from sandbox.llmops import rag, services
from sandbox.llmops.models import RagAnswer, RagConfigVersion, RagPromotion
from sandbox.models import Dataset, Job, Run
from tests.llmops_course import glossary_and_faq_sync

pytestmark = pytest.mark.django_db

BETTER = {
    "prompt_template": "Answer from the context only.\n{context}\nQ: {question}\nA:",
    "chunk_size": 80, "chunk_overlap": 20, "top_k": 3, "ngram_max": 1, "sublinear_tf": "on",
    "stop_words": "english", "include_title": "on", "note": "titles, stop words, longer chunks",
}  # fmt: skip
# Better on both gate metrics than the baseline, yet it loses a question the baseline answered: the gate refuses it.
WHOLE_DOCUMENTS = {**BETTER, "chunk_size": 400, "chunk_overlap": 0, "note": "whole documents"}


@pytest.fixture
def media(settings: object, tmp_path: object) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def real_course(db: None, media: None, tmp_path: Path) -> None:
    glossary_and_faq_sync(tmp_path)


def _post(client: Client, url: str, data: dict | None, capture: object) -> object:
    with capture(execute=True):
        return client.post(url, data or {})


def _evaluate(client: Client, number: int, capture: object) -> Run:
    response = _post(client, reverse("sandbox:rag_evaluate", args=[number]), None, capture)
    assert response.status_code == 302, response.content[:500]
    return Run.objects.filter(rag_evaluation__version__number=number).order_by("-pk").first()


def _save(client: Client, data: dict, capture: object) -> object:
    return _post(client, reverse("sandbox:rag_version_create"), data, capture)


def test_a_whole_session_evaluates_beats_the_baseline_compares_and_promotes(
    learner: User, learner_client: Client, real_course: None, celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:  # fmt: skip
    capture = django_capture_on_commit_callbacks
    page = learner_client.get(reverse("sandbox:rag"))
    assert page.status_code == 200
    baseline = RagConfigVersion.objects.get(owner=learner, number=1)
    assert rag.RagConfig(**baseline.params()) == rag.BASELINE
    assert challenge_status("llmops.rag-eval", learner).steps == [(step, False) for step in
        ("Evaluate a configuration of your own on the golden set", "Beat the baseline's hit rate@3",
         "Promote it through the regression gate without a regression on the golden set")]  # fmt: skip

    base_run = _evaluate(learner_client, 1, capture)
    assert base_run.status == Run.Status.SUCCEEDED, base_run.error
    assert set(base_run.metrics) == set(rag.METRIC_NAMES)
    assert base_run.algorithm == services.ALGORITHM
    assert base_run.params == baseline.params()
    assert base_run.job.status == Job.Status.SUCCEEDED
    assert RagAnswer.objects.filter(evaluation__run=base_run).count() == len(rag.golden_load())
    assert base_run.metrics["hit_rate_at_3"] < 1.0
    # The corpus is a dataset version of its own, whose content hash is the version.
    corpus = base_run.dataset_version
    assert corpus.dataset.source == Dataset.Source.CORPUS
    assert list(corpus.dataset.versions.all()) == [corpus]
    assert default_storage.exists(corpus.file)

    saved = _save(learner_client, BETTER, capture)
    assert saved.status_code == 302
    assert saved["Location"] == reverse("sandbox:rag_version", args=[2])
    run = Run.objects.get(rag_evaluation__version__number=2)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.dataset_version_id == corpus.pk, "the same content is the same corpus version"
    assert run.metrics["hit_rate_at_3"] > base_run.metrics["hit_rate_at_3"]
    steps = challenge_status("llmops.rag-eval", learner).steps
    assert [done for _, done in steps] == [True, True, False]

    version_page = learner_client.get(reverse("sandbox:rag_version", args=[2])).content.decode()
    compare_url = reverse("sandbox:compare", args=[run.experiment_id]) + f"?runs={base_run.pk}&amp;runs={run.pk}"
    assert compare_url in version_page
    assert "Lost questions" not in version_page
    assert "scipy.stats.ks_2samp" in version_page, "each question's answer and chunks are on the page"
    compare = learner_client.get(html.unescape(compare_url))
    assert compare.status_code == 200
    assert b"hit_rate_at_3" in compare.content

    # The runs table lists both evaluations beside each other, without a training form.
    table = learner_client.get(reverse("sandbox:experiment", args=[run.experiment_id])).content.decode()
    assert "rag-v1" in table
    assert "rag-v2" in table
    assert "hit_rate_at_3" in table
    assert "Train a run" not in table
    run_page = learner_client.get(reverse("sandbox:run", args=[run.pk])).content.decode()
    assert "Replay this run" not in run_page
    assert "Reveal the test score" not in run_page
    assert reverse("sandbox:rag_version", args=[2]) in run_page
    assert learner_client.post(reverse("sandbox:run_action", args=[run.pk, "replay"])).status_code == 302
    assert not Run.objects.filter(replay_of=run).exists()
    refused = learner_client.post(reverse("sandbox:run_action", args=[run.pk, "reveal"]), follow=True)
    assert "no model, test split or replay" in refused.content.decode()
    run.refresh_from_db()
    assert run.test_revealed_at is None
    experiment_url = reverse("sandbox:experiment", args=[run.experiment_id])
    assert learner_client.get(experiment_url + "?fragment=params", HTTP_HX_REQUEST="true").status_code == 404
    training = learner_client.post(reverse("sandbox:run_create", args=[run.experiment_id]), {"algorithm": "x"})
    assert training.status_code == 409
    assert Run.objects.filter(owner=learner).count() == 2

    promoted = learner_client.post(reverse("sandbox:rag_promote", args=[2]))
    assert promoted.status_code == 302
    gate = RagPromotion.objects.get(owner=learner)
    assert gate.passed, gate.reasons
    assert gate.beats_baseline
    assert services.promoted_version(owner=learner).number == 2
    assert challenge_status("llmops.rag-eval", learner).met
    # A corpus with text columns is not the data of the preparation challenge, nor a dataset the learner versioned.
    assert not challenge_status("prep.pipeline-run", learner).steps[0][1]
    assert not challenge_status("data.two-versions", learner).steps[0][1]
    home = learner_client.get(reverse("sandbox:rag")).content.decode()
    assert "passed, promoted" in home
    assert '<strong id="promoted-version">v2</strong>' in home
    # Promoting the promoted version again is refused and records nothing.
    again = learner_client.post(reverse("sandbox:rag_promote", args=[2]), follow=True)
    assert "v2 is already the promoted version." in again.content.decode()
    assert RagPromotion.objects.count() == 1
    # Deleting the learner takes their versions, runs, answers, verdicts and corpus with them.
    learner.delete()
    assert not RagConfigVersion.objects.exists()
    assert not RagAnswer.objects.exists()
    assert not Run.objects.exists()
    assert not Dataset.objects.exists()


def test_a_failed_gate_changes_nothing_and_lists_the_lost_questions(
    learner: User, learner_client: Client, real_course: None, celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:  # fmt: skip
    capture = django_capture_on_commit_callbacks
    learner_client.get(reverse("sandbox:rag"))
    base_run = _evaluate(learner_client, 1, capture)
    assert _save(learner_client, WHOLE_DOCUMENTS, capture).status_code == 302
    run = Run.objects.get(rag_evaluation__version__number=2)
    assert run.metrics["hit_rate_at_3"] > base_run.metrics["hit_rate_at_3"]
    assert run.metrics["answer_contains_fact"] > base_run.metrics["answer_contains_fact"]

    response = learner_client.post(reverse("sandbox:rag_promote", args=[2]), follow=True)
    assert response.status_code == 200
    gate = RagPromotion.objects.get(owner=learner)
    assert not gate.passed
    assert gate.lost == ["ks-statistic"]
    assert services.promoted_version(owner=learner).number == 1
    page = response.content.decode()
    assert "The gate failed, so v1 stays promoted" in page
    assert '<code class="rag-lost">ks-statistic</code>' in page
    assert [done for _, done in challenge_status("llmops.rag-eval", learner).steps] == [True, True, False]


def test_promoting_before_an_evaluation_is_refused_with_the_reason(
    learner: User, learner_client: Client, real_course: None, celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:  # fmt: skip
    learner_client.get(reverse("sandbox:rag"))
    v2 = RagConfigVersion.objects.create(owner=learner, number=2, **rag.BASELINE.as_params())
    response = learner_client.post(reverse("sandbox:rag_promote", args=[2]), follow=True)
    assert "no finished evaluation yet" in response.content.decode()
    _evaluate(learner_client, 2, django_capture_on_commit_callbacks)
    # The promoted v1 was never evaluated: there is nothing to compare v2 with.
    response = learner_client.post(reverse("sandbox:rag_promote", args=[2]), follow=True)
    assert "evaluate v1 again first" in response.content.decode()
    assert not RagPromotion.objects.exists()
    assert v2.evaluations.count() == 1


def test_promoting_against_an_evaluation_of_another_golden_set_is_refused(
    learner: User, learner_client: Client, course: object, media: None, celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:  # fmt: skip
    capture = django_capture_on_commit_callbacks
    learner_client.get(reverse("sandbox:rag"))
    base_run = _evaluate(learner_client, 1, capture)
    assert _save(learner_client, BETTER, capture).status_code == 302
    # v1 was evaluated before a release that retired one golden question, answered then, and added another.
    retired = RagAnswer.objects.filter(evaluation__run=base_run).order_by("position").first()
    RagAnswer.objects.filter(pk=retired.pk).update(question_id="a-retired-question", fact_found=True)
    response = learner_client.post(reverse("sandbox:rag_promote", args=[2]), follow=True)
    assert "another version of the golden set" in response.content.decode()
    assert "evaluate v1 again first" in response.content.decode()
    assert not RagPromotion.objects.exists()
    _evaluate(learner_client, 1, capture)
    assert learner_client.post(reverse("sandbox:rag_promote", args=[2])).status_code == 302
    assert RagPromotion.objects.get().lost == []


def test_two_promotions_at_once_are_judged_one_after_the_other(
    learner: User, course: object, media: None, celery_eager: None, transactional_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # Committed transactions run the queued evaluations in this thread, eagerly.
    services.evaluation_queue(version=services.baseline_ensure(owner=learner))
    two = services.version_save(owner=learner, config=rag.RagConfig(top_k=2))
    three = services.version_save(owner=learner, config=rag.RagConfig(top_k=4))
    assert Run.objects.filter(owner=learner, status=Run.Status.SUCCEEDED).count() == 3
    gate = rag.gate

    def slow_gate(*args: object) -> rag.GateResult:
        time.sleep(0.3)  # long enough for the other request to read the promoted version too, unless it waits
        return gate(*args)

    monkeypatch.setattr(rag, "gate", slow_gate)
    start = threading.Barrier(2)

    def promote(version: RagConfigVersion) -> None:
        try:
            start.wait()
            services.version_promote(version=version)
        finally:
            connection.close()

    threads = [threading.Thread(target=promote, args=(version,)) for version in (two, three)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    first, second = RagPromotion.objects.order_by("pk").select_related("candidate", "against")
    assert first.passed, first.reasons
    assert first.against.number == 1
    assert second.against == first.candidate, "the second gate compares with what the first promoted"
    assert services.promoted_version(owner=learner) == second.candidate


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"prompt_template": "Answer: {question}"}, "prompt_template", "must contain {context}"),
        ({"chunk_size": "many"}, "chunk_size", "Enter a whole number"),
        ({"chunk_size": "1000"}, "chunk_size", "less than or equal to 400"),
        ({"chunk_size": "19"}, "chunk_size", "greater than or equal to 20"),
        ({"chunk_overlap": "80"}, "chunk_overlap", "at most half the chunk size"),
        ({"chunk_overlap": "41"}, "chunk_overlap", "at most half the chunk size"),
        ({"chunk_overlap": "-1"}, "chunk_overlap", "greater than or equal to 0"),
        ({"top_k": "0"}, "top_k", "greater than or equal to 1"),
        ({"top_k": "1e9"}, "top_k", "Enter a whole number"),
        ({"ngram_max": "3"}, "ngram_max", "Select a valid choice"),
        ({"stop_words": "french"}, "stop_words", "Select a valid choice"),
        ({"prompt_template": "{context}{question}" + "x" * 2000}, "prompt_template", "at most 2000 characters"),
    ],
)
def test_bad_input_is_a_form_error_that_saves_nothing(
    learner_client: Client, course: object, media: None, celery_eager: None, changes: dict, field: str, message: str
) -> None:
    learner_client.get(reverse("sandbox:rag"))
    response = learner_client.post(reverse("sandbox:rag_version_create"), {**BETTER, **changes})
    assert response.status_code == 422
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert RagConfigVersion.objects.count() == 1
    assert not Run.objects.exists()
    assert not Job.objects.exists()


def test_a_learner_sees_only_their_own_versions_and_runs(
    learner: User, other_learner: User, learner_client: Client, course: object, media: None, celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:  # fmt: skip
    learner_client.get(reverse("sandbox:rag"))
    assert (
        _save(learner_client, {**BETTER, "note": "ada's secret note"}, django_capture_on_commit_callbacks).status_code
        == 302
    )
    run = Run.objects.get(rag_evaluation__version__number=2)
    other = Client()
    other.force_login(other_learner)
    home = other.get(reverse("sandbox:rag")).content.decode()
    assert "ada's secret note" not in home
    assert reverse("sandbox:rag_version", args=[2]) not in home
    assert other.get(reverse("sandbox:rag_version", args=[2])).status_code == 404
    assert other.post(reverse("sandbox:rag_evaluate", args=[2])).status_code == 404
    assert other.post(reverse("sandbox:rag_promote", args=[2])).status_code == 404
    assert other.get(reverse("sandbox:run", args=[run.pk])).status_code == 404
    assert other.get(reverse("sandbox:experiment", args=[run.experiment_id])).status_code == 404
    # Their own v1 is theirs, made on their first visit.
    assert RagConfigVersion.objects.filter(owner=other_learner).count() == 1
    assert Client().get(reverse("sandbox:rag")).status_code == 302, "signed-out visitors are sent to sign in"


def test_a_queue_that_does_not_answer_is_refused_clearly_and_saves_nothing(
    learner_client: Client, course: object, media: None, closed_redis_url: str
) -> None:
    learner_client.get(reverse("sandbox:rag"))
    response = learner_client.post(reverse("sandbox:rag_version_create"), BETTER)
    assert response.status_code == 503
    assert QUEUE_UNREACHABLE in html.unescape(response.content.decode())
    assert RagConfigVersion.objects.count() == 1
    assert not Run.objects.exists()
    evaluate = learner_client.post(reverse("sandbox:rag_evaluate", args=[1]), follow=True)
    assert evaluate.redirect_chain == [(reverse("sandbox:rag_version", args=[1]), 302)]
    assert QUEUE_UNREACHABLE in html.unescape(evaluate.content.decode())
    assert not Run.objects.exists()
    assert not Dataset.objects.exists(), "no corpus dataset is left behind by a refused job"


def test_a_full_job_quota_is_refused_and_saves_nothing(
    learner: User, learner_client: Client, course: object, media: None, celery_eager: None
) -> None:
    for _ in range(3):
        Job.objects.create(owner=learner, kind=FIRST_MODEL)
    response = learner_client.post(reverse("sandbox:rag_version_create"), BETTER)
    assert response.status_code == 429
    assert RagConfigVersion.objects.filter(number__gte=2).count() == 0
    evaluate = learner_client.post(reverse("sandbox:rag_evaluate", args=[1]), follow=True)
    assert "the most one learner may have" in evaluate.content.decode()
    assert not Run.objects.exists()
    assert not Dataset.objects.exists(), "no corpus dataset is left behind by a refused job"


def test_without_synced_content_the_page_says_so_and_nothing_is_queued(
    learner_client: Client, media: None, celery_eager: None
) -> None:
    page = learner_client.get(reverse("sandbox:rag"))
    assert page.status_code == 200
    assert (
        html.escape(services.NO_CONTENT) in page.content.decode() or "not loaded on this site" in page.content.decode()
    )
    response = learner_client.post(reverse("sandbox:rag_evaluate", args=[1]), follow=True)
    assert "sync_content" in response.content.decode()
    saved = learner_client.post(reverse("sandbox:rag_version_create"), BETTER)
    assert saved.status_code == 409
    assert RagConfigVersion.objects.count() == 1
    assert not Run.objects.exists()
    assert not Dataset.objects.exists()


def test_a_job_that_fails_leaves_a_failed_run_with_its_reason(
    learner: User, learner_client: Client, course: object, media: None, celery_eager: None,
    django_capture_on_commit_callbacks: object,
) -> None:  # fmt: skip
    learner_client.get(reverse("sandbox:rag"))
    with django_capture_on_commit_callbacks(execute=True):
        evaluation = services.evaluation_queue(version=RagConfigVersion.objects.get(owner=learner, number=1))
        # The corpus file disappears before the worker reads it.
        default_storage.delete(evaluation.run.dataset_version.file)
    run = Run.objects.get(pk=evaluation.run_id)
    assert run.status == Run.Status.FAILED
    assert "FileNotFoundError" in run.error
    assert run.job.status == Job.Status.FAILED
    assert not RagAnswer.objects.exists()
    page = learner_client.get(reverse("sandbox:rag_version", args=[1])).content.decode()
    assert "FileNotFoundError" in page
    assert "Evaluate again" in page


def test_a_job_that_ends_before_its_run_starts_fails_the_run_and_frees_the_version(
    learner: User, learner_client: Client, course: object, media: None, celery_eager: None
) -> None:
    learner_client.get(reverse("sandbox:rag"))
    version = RagConfigVersion.objects.get(owner=learner, number=1)
    evaluation = services.evaluation_queue(version=version)  # on_commit never runs inside the test's transaction
    # As when its message cannot be sent, or its worker dies twice: the job ends without the run ever starting.
    job_fail(job_id=Run.objects.get(pk=evaluation.run_id).job_id, error="The worker stopped twice.")
    run = Run.objects.get(pk=evaluation.run_id)
    assert (run.status, run.error) == (Run.Status.FAILED, "The worker stopped twice.")
    services.evaluation_queue(version=version)
    assert version.evaluations.count() == 2


def test_an_evaluation_already_waiting_is_not_queued_twice(
    learner: User, learner_client: Client, course: object, media: None, celery_eager: None
) -> None:
    learner_client.get(reverse("sandbox:rag"))
    version = RagConfigVersion.objects.get(owner=learner, number=1)
    services.evaluation_queue(version=version)  # on_commit never runs inside the test's transaction: it waits
    response = learner_client.post(reverse("sandbox:rag_evaluate", args=[1]), follow=True)
    assert "v1 is already being evaluated" in response.content.decode()
    assert version.evaluations.count() == 1


def test_two_evaluations_asked_at_once_queue_one(
    learner: User, course: object, media: None, transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sandbox.jobs.services.redis_problem", lambda url, **kwargs: None)
    monkeypatch.setattr("sandbox.jobs.services._send", lambda job_id, task_id: None)  # the jobs stay queued
    version = services.baseline_ensure(owner=learner)
    corpus_version_current = services.corpus_version_current

    def slow_corpus(*, owner: User) -> object:
        time.sleep(0.3)  # long enough for the other request to find nothing queued yet, unless it waits
        return corpus_version_current(owner=owner)

    monkeypatch.setattr(services, "corpus_version_current", slow_corpus)
    start, refused = threading.Barrier(2), []

    def evaluate() -> None:
        try:
            start.wait()
            services.evaluation_queue(version=version)
        except services.RagRefused as refusal:
            refused.append(refusal.status)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert version.evaluations.count() == 1
    assert refused == [409]


def test_a_saved_version_cannot_change() -> None:
    user = User.objects.create_user("u")
    version = RagConfigVersion.objects.create(owner=user, number=1, **rag.BASELINE.as_params())
    version.top_k = 5
    with pytest.raises(ValueError, match="cannot change"):
        version.save()


def test_the_corpus_is_not_offered_for_training(
    learner: User, learner_client: Client, course: object, media: None, celery_eager: None
) -> None:
    corpus = services.corpus_version_current(owner=learner)
    page = learner_client.get(reverse("sandbox:experiments")).content.decode()
    assert f'value="{corpus.dataset_id}"' not in page
    response = learner_client.post(reverse("sandbox:experiments"), {"name": "x", "dataset": corpus.dataset_id})
    assert response.status_code == 422
    dataset_page = learner_client.get(reverse("sandbox:dataset", args=[corpus.dataset_id])).content.decode()
    assert "Train on it in an experiment" not in dataset_page
    assert learner_client.get(reverse("sandbox:dataset_version", args=[corpus.dataset_id, 1])).status_code == 200


def test_the_evaluation_reports_progress_question_by_question(
    learner: User, learner_client: Client, real_course: None, celery_eager: None
) -> None:
    learner_client.get(reverse("sandbox:rag"))
    evaluation = services.evaluation_queue(version=RagConfigVersion.objects.get(owner=learner, number=1))
    reported = []
    services.evaluation_run(
        run_id=evaluation.run_id, on_progress=lambda percent, message: reported.append((percent, message))
    )
    total = len(rag.golden_load())
    assert reported[0] == (1, "Reading the corpus and the golden set")
    assert [message for _, message in reported[1:]] == [f"Golden question {i} of {total}" for i in range(1, total + 1)]
    percents = [percent for percent, _ in reported]
    assert percents == sorted(percents)
    assert percents[-1] == 99, "100 is the job's own, once its result is saved"
