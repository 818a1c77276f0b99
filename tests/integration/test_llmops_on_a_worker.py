"""A real Celery worker evaluates RAG configuration versions on the golden set and the pages follow it."""

import pytest
from django.urls import reverse

from sandbox.jobs.models import Job
from sandbox.llmops import rag, services
from sandbox.llmops.models import RagAnswer
from sandbox.models import Run
from tests.integration.test_runs_on_a_worker import _wait
from tests.llmops_course import glossary_and_faq_sync

pytestmark = pytest.mark.integration


def test_a_worker_evaluates_the_baseline_and_a_better_version(
    celery_worker: object, learner: object, client: object, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = tmp_path
    glossary_and_faq_sync(tmp_path)
    baseline = services.baseline_ensure(owner=learner)
    first = services.evaluation_queue(version=baseline).run
    better = rag.RagConfig(
        chunk_size=80, chunk_overlap=20, top_k=3, sublinear_tf=True, stop_words="english", include_title=True
    )
    version = services.version_save(owner=learner, config=better, note="titles and stop words")
    second = version.evaluations.get().run
    _wait([first, second])
    assert [first.status, second.status] == [Run.Status.SUCCEEDED] * 2, [first.error, second.error]
    assert second.metrics["hit_rate_at_3"] > first.metrics["hit_rate_at_3"]
    assert RagAnswer.objects.filter(evaluation__run=second).count() == len(rag.golden_load())
    job = Job.objects.get(pk=second.job_id)
    assert (job.status, job.progress, job.kind) == (Job.Status.SUCCEEDED, 100, services.RAG_EVAL)
    assert set(second.environment) == {"python", "scikit-learn", "pandas", "numpy", "code"}

    client.force_login(learner)
    fragment = client.get(reverse("sandbox:rag_version", args=[2]) + "?fragment=evaluation", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 286, "a finished evaluation ends the poll"
    assert b"hit_rate_at_3" in fragment.content
    promoted = client.post(reverse("sandbox:rag_promote", args=[2]))
    assert promoted.status_code == 302
    assert services.promoted_version(owner=learner).number == 2
