"""Use cases of the RAG evaluation sandbox: the baseline, saving a configuration version, queueing and running its
evaluation as a tracked run, and promoting a version through the regression gate."""

from __future__ import annotations

from html import unescape

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.text import slugify

from lessons.attempts import progress_refresh
from lessons.models import FaqEntry, GlossaryTerm
from mlopslab.lazy import lazy_module
from mlopslab.refusals import Refused
from sandbox.datasets import services as dataset_services
from sandbox.datasets.models import Dataset, DatasetVersion
from sandbox.datasets.selectors import version_frame
from sandbox.jobs.registry import JobError, ProgressCallback
from sandbox.jobs.services import job_create
from sandbox.llmops import rag
from sandbox.llmops.models import RagAnswer, RagConfigVersion, RagEvaluation, RagPromotion
from sandbox.tracking.models import Experiment, Run, runs_reindex
from sandbox.tracking.services import environment

pd = lazy_module("pandas")

RAG_EVAL = "rag_eval"
"""The kind of job that evaluates a version (sandbox.llmops.runners)."""
ALGORITHM = "rag-tfidf"
"""A RAG run's algorithm in the runs table: TF-IDF retrieval and the extractive composer."""
EXPERIMENT_NAME = "RAG over the course"
CORPUS_NAME = "Course corpus"
CORPUS_TASK = "retrieval"
NO_CONTENT = (
    "The course's glossary and FAQ are not loaded on this site yet, so there is nothing to retrieve from. "
    "Whoever runs it loads them with “python manage.py sync_content”; then evaluate again."
)


class RagRefused(Refused):
    """Nothing was saved or queued; the message says why."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message, status=status)


# --- The corpus ---------------------------------------------------------------------------------------------------


def faq_document_id(question: str) -> str:
    """A FAQ entry's stable id: its question as a slug, so that adding an entry moves no other id."""
    return f"faq:{slugify(question)[:80]}"


def _plain(html: str) -> str:
    return " ".join(unescape(strip_tags(html)).split())


def corpus_documents() -> list[rag.Document]:
    """One document per glossary term (its definition) and per FAQ entry (its answer's text), as synced, by id."""
    documents = [
        rag.Document(id=f"glossary:{slug}", title=term, text=" ".join(definition.split()))
        for slug, term, definition in GlossaryTerm.objects.values_list("slug", "term", "definition")
    ]
    documents += [
        rag.Document(id=faq_document_id(question), title=question, text=_plain(answer_html))
        for question, answer_html in FaqEntry.objects.values_list("question", "answer_html")
    ]
    return sorted(documents, key=lambda document: document.id)


def documents_from_version(version: DatasetVersion) -> list[rag.Document]:
    """The documents a corpus version holds, read back from its CSV."""
    frame = version_frame(version).fillna("")
    return [rag.Document(id=str(row.id), title=str(row.title), text=str(row.text)) for row in frame.itertuples()]


def _corpus_dataset(owner: User) -> Dataset:
    dataset = Dataset.objects.filter(owner=owner, source=Dataset.Source.CORPUS).order_by("pk").first()
    if dataset is None:
        dataset = Dataset.objects.create(
            owner=owner, name=CORPUS_NAME, source=Dataset.Source.CORPUS, task=CORPUS_TASK, target="text"
        )
    return dataset


def corpus_version_current(*, owner: User) -> DatasetVersion:
    """The learner's corpus dataset version holding the course content as synced now: the existing version when
    the content is unchanged (its content hash is the version), a new one otherwise. Refused (409) without content."""
    documents = corpus_documents()
    if not documents:
        raise RagRefused(NO_CONTENT, status=409)
    frame = pd.DataFrame(
        [{"id": d.id, "title": d.title, "text": d.text} for d in documents], columns=["id", "title", "text"]
    )
    with transaction.atomic():
        # One corpus dataset per learner, even for two first visits at once.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        dataset = _corpus_dataset(owner)
        version, _ = dataset_services.version_add(dataset=dataset, frame=frame)
    return version


def _experiment(owner: User, dataset: Dataset) -> Experiment:
    experiment = Experiment.objects.filter(owner=owner, dataset=dataset, name=EXPERIMENT_NAME).order_by("pk").first()
    return experiment or Experiment.objects.create(owner=owner, name=EXPERIMENT_NAME, dataset=dataset)


# --- Versions -----------------------------------------------------------------------------------------------------


def _fields(config: rag.RagConfig) -> dict:
    return config.as_params()


def baseline_ensure(*, owner: User) -> RagConfigVersion:
    """The learner's v1, the deliberately plain baseline, made on first use."""
    baseline = RagConfigVersion.objects.filter(owner=owner, number=1).first()
    if baseline is not None:
        return baseline
    try:
        with transaction.atomic():
            return RagConfigVersion.objects.create(owner=owner, number=1, note="The baseline", **_fields(rag.BASELINE))
    except IntegrityError:  # another request made it at the same moment
        return RagConfigVersion.objects.get(owner=owner, number=1)


def version_save(*, owner: User, config: rag.RagConfig, note: str = "") -> RagConfigVersion:
    """Save `config` as the learner's next version and queue its evaluation, or refuse and save nothing."""
    problems = rag.config_problems(config)
    if problems:
        raise RagRefused(" ".join(problems.values()))
    if len(note) > 200:
        raise RagRefused("A note may be at most 200 characters.")
    baseline_ensure(owner=owner)
    with transaction.atomic():
        # Inside the transaction: a refused job takes a corpus version made for it away too.
        corpus = corpus_version_current(owner=owner)
        User.objects.select_for_update().filter(pk=owner.pk).first()
        number = (RagConfigVersion.objects.filter(owner=owner).aggregate(n=Max("number"))["n"] or 0) + 1
        version = RagConfigVersion.objects.create(owner=owner, number=number, note=note, **_fields(config))
        # A refused job (quota, queue down) leaves this block by its exception, taking the version with it.
        _queue(version, corpus)
    return version


def _queue(version: RagConfigVersion, corpus: DatasetVersion) -> RagEvaluation:
    experiment = _experiment(version.owner, corpus.dataset)
    earlier = version.evaluations.count()
    run = Run.objects.create(
        experiment=experiment,
        owner=version.owner,
        dataset_version=corpus,
        name=f"rag-v{version.number}" + (f" #{earlier + 1}" if earlier else ""),
        algorithm=ALGORITHM,
        params=version.params(),
        preparation={},
        split={},
        seed=0,
    )
    evaluation = RagEvaluation.objects.create(version=version, run=run)
    job = job_create(owner=version.owner, kind=RAG_EVAL, params={"run_ids": [run.pk]})
    Run.objects.filter(pk=run.pk).update(job=job)
    return evaluation


def evaluation_queue(*, version: RagConfigVersion) -> RagEvaluation:
    """Queue an evaluation of `version` on the course content as synced now; refused, queueing nothing, while one
    is already waiting or running (409), without content (409), a full quota (429) or a queue down (503)."""
    with transaction.atomic():
        # Checked under the learner's lock, so that two clicks at once queue one evaluation.
        User.objects.select_for_update().filter(pk=version.owner_id).first()
        active = version.evaluations.filter(run__status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).exists()
        if active:
            raise RagRefused(f"v{version.number} is already being evaluated; wait for it to finish.", status=409)
        return _queue(version, corpus_version_current(owner=version.owner))


def evaluation_run(*, run_id: int, on_progress: ProgressCallback) -> dict:
    """Evaluate the run's configuration on the golden set over its corpus version (called by a worker)."""
    run = Run.objects.select_related("dataset_version", "rag_evaluation").get(pk=run_id)
    evaluation = run.rag_evaluation
    Run.objects.filter(pk=run_id).update(status=Run.Status.RUNNING, error="")
    try:
        on_progress(1, "Reading the corpus and the golden set")
        config = rag.config_from_params(run.params)
        documents = documents_from_version(run.dataset_version)
        golden = rag.golden_load()

        def on_question(index: int, total: int, result: rag.QuestionResult) -> None:
            on_progress(min(99, int(100 * index / total)), f"Golden question {index} of {total}")

        metrics, results = rag.evaluate(documents, golden, config, on_question=on_question)
    except rag.ConfigError as exc:
        Run.objects.filter(pk=run_id).update(status=Run.Status.FAILED, error=str(exc), finished_at=timezone.now())
        raise JobError(str(exc)) from None
    except Exception as exc:
        Run.objects.filter(pk=run_id).update(
            status=Run.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    answers = [
        RagAnswer(
            evaluation=evaluation,
            position=position,
            question_id=r.question_id,
            question=r.question[:300],
            expected=r.expected,
            fact=r.fact[:200],
            first_relevant_rank=r.first_relevant_rank,
            hit_at_1=r.hit_at_1,
            hit_at_3=r.hit_at_3,
            hit_at_k=r.hit_at_k,
            fact_found=r.fact_found,
            answer=r.answer,
            prompt_tokens=r.prompt_tokens,
            answer_tokens=r.answer_tokens,
            latency_ms=round(r.latency_ms, 3),
            retrieved=r.retrieved,
        )
        for position, r in enumerate(results, start=1)
    ]
    with transaction.atomic():
        # A redelivered task writes the answers again instead of adding to them.
        evaluation.answers.all().delete()
        RagAnswer.objects.bulk_create(answers)
        Run.objects.filter(pk=run_id).update(
            status=Run.Status.SUCCEEDED,
            metrics=metrics,
            rows={"golden questions": len(results), "documents": len(documents)},
            environment=environment(),
            finished_at=timezone.now(),
        )
        runs_reindex(run_ids=[run_id], groups=["metrics"])
    return {"questions": len(results), **{k: metrics[k] for k in ("hit_rate_at_3", "answer_contains_fact")}}


# --- Promotion ----------------------------------------------------------------------------------------------------


def promoted_version(*, owner: User) -> RagConfigVersion:
    """The version the last passed gate promoted, or the baseline while none has."""
    last = RagPromotion.objects.filter(owner=owner, passed=True).select_related("candidate").first()
    return last.candidate if last is not None else baseline_ensure(owner=owner)


def latest_evaluation(version: RagConfigVersion, *, corpus_id: int | None = None) -> RagEvaluation | None:
    """The version's newest succeeded evaluation (on that corpus version, when given)."""
    evaluations = version.evaluations.filter(run__status=Run.Status.SUCCEEDED).select_related("run")
    if corpus_id is not None:
        evaluations = evaluations.filter(run__dataset_version_id=corpus_id)
    return evaluations.first()


def _facts(evaluation: RagEvaluation) -> dict[str, bool]:
    return dict(evaluation.answers.values_list("question_id", "fact_found"))


def _golden_asked(evaluation: RagEvaluation) -> list[tuple]:
    """The golden set as the evaluation asked it: each question's id, wording, expected documents and fact."""
    return [
        (qid, question, tuple(expected), fact)
        for qid, question, expected, fact in evaluation.answers.values_list(
            "question_id", "question", "expected", "fact"
        )
    ]


def version_promote(*, version: RagConfigVersion) -> RagPromotion:
    """Run the regression gate for `version` against the promoted version, on the same corpus version, and keep
    its verdict; only a passed gate makes `version` the promoted one. Refused (409) when there is nothing to
    compare: the version is the promoted one, or either lacks a finished evaluation on that corpus."""
    owner = version.owner
    with transaction.atomic():
        # Two promotions at once are judged one after the other, the second against what the first promoted.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        promotion = _gate_and_record(version)
    if promotion.passed:
        progress_refresh(user=owner)
    return promotion


def _gate_and_record(version: RagConfigVersion) -> RagPromotion:
    owner = version.owner
    current = promoted_version(owner=owner)
    if current.pk == version.pk:
        raise RagRefused(f"v{version.number} is already the promoted version.", status=409)
    candidate = latest_evaluation(version)
    if candidate is None:
        raise RagRefused(
            f"v{version.number} has no finished evaluation yet: the gate compares evaluations on the golden set.",
            status=409,
        )
    corpus_id = candidate.run.dataset_version_id
    against = latest_evaluation(current, corpus_id=corpus_id)
    if against is None:
        raise RagRefused(
            f"The promoted v{current.number} has no finished evaluation on the corpus v{version.number} was "
            f"evaluated on; evaluate v{current.number} again first, so both are judged on the same content.",
            status=409,
        )
    if _golden_asked(candidate) != _golden_asked(against):
        # A question added, dropped or reworded since: the averages and the lost questions would not compare.
        raise RagRefused(
            f"The promoted v{current.number} was last evaluated on another version of the golden set than "
            f"v{version.number}; evaluate v{current.number} again first, so both answer the same questions.",
            status=409,
        )
    result = rag.gate(candidate.run.metrics, against.run.metrics, _facts(candidate), _facts(against))
    baseline = latest_evaluation(baseline_ensure(owner=owner), corpus_id=corpus_id)
    beats = baseline is not None and candidate.run.metrics.get("hit_rate_at_3", 0) > baseline.run.metrics.get(
        "hit_rate_at_3", 0
    )
    promotion = RagPromotion.objects.create(
        owner=owner,
        candidate=version,
        against=current,
        candidate_run=candidate.run,
        against_run=against.run,
        passed=result.passed,
        reasons=result.reasons,
        lost=result.lost,
        beats_baseline=beats,
    )
    return promotion
