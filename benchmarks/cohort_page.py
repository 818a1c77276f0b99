"""Issue 13's two speed targets: the cohort page with 200 learners and the full bank (<= 300 ms), and the lesson
editor's live preview of a 1,500-word lesson (<= 50 ms median), both measured in one run.

A throw-away SQLite database (or DATABASE_URL) gets the course from lessons/content (its eleven stages and every
question), an instructor and a cohort of N learners (default 200). Each learner has reached a stage drawn at
random: every stage before it completed, its own quiz passed for some, with one to three finished attempts at
each stage reached, every graded question of the stage answered (right with a chance set by the learner's
ability, a wrong answer picking a wrong choice), and a few sandbox jobs, one in ten of them failed. All of it
is bulk-created.

Requests go through Django's full stack with the test client, in this process, signed in as the instructor:
the page and the heatmap fragment htmx polls, each rendered a few times to warm up and then timed `--renders`
times, taking turns; the median is the figure. The page is timed three ways: reloaded with nothing new (the
answers' figures kept from the last load), after a learner finished a quiz (a new attempt, created before the
clock starts, whose answers are read and added) and as a cohort's first load in a process (every answer read).
The report the page is built from is timed alone too, kept and first.

The preview is `lesson_preview.measure_preview`, on the same database once the cohort's figures are taken.

    .venv/bin/python benchmarks/cohort_page.py [--learners 200] [--renders 15] [--previews 50]

Each figure is printed as one line, `RESULT <name>: <value> <unit>`.
"""

import argparse
import datetime as dt
import random
import statistics
import time

from _setup import django_ready, report


def build(learners: int) -> tuple[object, object, int]:
    """The instructor and a cohort of `learners` learners with the history above; also the answers created."""
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from cohorts.models import CohortMembership, StageDeadline
    from cohorts.services import cohort_create
    from lessons import question_kinds
    from lessons.models import Answer, Lesson, LessonRead, Node, NodeProgress, Question, QuizAttempt
    from lessons.services import content_sync
    from sandbox.models import Job

    content_sync()
    instructor = User.objects.create_user(username="instructor")
    instructor.groups.add(Group.objects.get(name="Instructors"))
    cohort = cohort_create(instructor=instructor, name="Benchmark class")
    nodes = list(Node.objects.order_by("order"))
    for offset, node in enumerate(nodes):
        StageDeadline.objects.create(cohort=cohort, node=node, due=dt.date(2031, 1, 1) + dt.timedelta(weeks=offset))
    questions: dict[int, list[Question]] = {node.pk: [] for node in nodes}
    for question in Question.objects.filter(kind__in=question_kinds.GRADED_KINDS).prefetch_related("choices"):
        questions[question.node_id].append(question)
    lessons = list(Lesson.objects.values_list("pk", "node_id"))
    users = User.objects.bulk_create(User(username=f"learner-{n:03d}") for n in range(learners))
    users = list(User.objects.filter(username__startswith="learner-").order_by("username"))
    CohortMembership.objects.bulk_create(CohortMembership(cohort=cohort, learner=user) for user in users)
    rng = random.Random(13)
    now = timezone.now()
    progress, reads, attempts, jobs = [], [], [], []
    planned: list[tuple[QuizAttempt, list[tuple[Question, bool]]]] = []
    for user in users:
        reached = rng.randint(0, len(nodes) - 1)
        ability = rng.uniform(0.4, 0.95)
        for index, node in enumerate(nodes[: reached + 1]):
            done = index < reached
            passed_now = done or rng.random() < 0.3
            at = now - dt.timedelta(days=rng.uniform(0, 20))
            progress.append(
                NodeProgress(
                    user=user, node=node, quiz_passed_at=at if passed_now else None,
                    challenge_met_at=at if done else None, completed_at=at if done else None,
                )
            )  # fmt: skip
            reads += [LessonRead(user=user, lesson_id=pk) for pk, node_id in lessons if node_id == node.pk]
            for _ in range(rng.randint(1, 3)):
                results = [(q, rng.random() < ability) for q in questions[node.pk]]
                correct = sum(right for _, right in results)
                attempt = QuizAttempt(
                    user=user, mode=QuizAttempt.Mode.NODE, node=node, seed=rng.randrange(2**31),
                    question_ids=[q.pk for q, _ in results], finished_at=at, correct=correct, graded=len(results),
                    passed=bool(results) and 100 * correct >= node.pass_mark * len(results),
                )  # fmt: skip
                planned.append((attempt, results))
        for _ in range(rng.randint(1, 4)):
            failed = rng.random() < 0.1
            jobs.append(
                Job(owner=user, kind=rng.choice(["first_model", "training", "drift_report"]),
                    status=Job.Status.FAILED if failed else Job.Status.SUCCEEDED, finished_at=now)
            )  # fmt: skip
    NodeProgress.objects.bulk_create(progress, batch_size=2000)
    LessonRead.objects.bulk_create(reads, batch_size=2000)
    Job.objects.bulk_create(jobs, batch_size=2000)
    attempts = QuizAttempt.objects.bulk_create([attempt for attempt, _ in planned], batch_size=2000)
    answers = []
    for attempt, (_, results) in zip(attempts, planned, strict=True):
        for question, right in results:
            answers.append(Answer(attempt=attempt, question=question, response=_response(question, right, rng),
                                  correct=right))  # fmt: skip
    Answer.objects.bulk_create(answers, batch_size=5000)
    from django.db import connection

    if connection.vendor == "postgresql":
        # What autovacuum does within a minute of inserts this size: without statistics and a visibility map
        # the planner guesses the tables' sizes and each index-only scan visits the heap.
        with connection.cursor() as cursor:
            for model in (Answer, QuizAttempt, NodeProgress, LessonRead, Job, CohortMembership):
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
    return instructor, cohort, len(answers)


def _response(question: object, right: bool, rng: random.Random) -> dict:
    if question.spec.has_choices:
        choices = [c for c in question.choices.all() if c.correct == right] or list(question.choices.all())
        return {"choices": [rng.choice(choices).pk]}
    if question.kind == "true_false":
        return {"value": question.answer["value"] if right else not question.answer["value"]}
    if question.kind == "ordering":
        order = list(question.answer["order"])
        if not right:
            order[0], order[1] = order[1], order[0]
        return {"order": order}
    value = question.answer.get("value", 0)
    return {"value": value if right else value * 2 + 1}


def timed(call: object, count: int) -> list[float]:
    """Milliseconds each call took, or what it says it took when it times only part of itself."""
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        own = call()
        timings.append(own if own is not None else (time.perf_counter() - started) * 1000)
    return timings


def finish_attempt(user: object, node: object, rng: random.Random) -> None:
    """A finished attempt at the stage's quiz by the learner, every graded question answered."""
    from django.utils import timezone

    from lessons import question_kinds
    from lessons.models import Answer, QuizAttempt

    questions = list(node.questions.filter(kind__in=question_kinds.GRADED_KINDS).prefetch_related("choices"))
    results = [(question, rng.random() < 0.7) for question in questions]
    correct = sum(right for _, right in results)
    attempt = QuizAttempt.objects.create(
        user=user, mode=QuizAttempt.Mode.NODE, node=node, seed=1, question_ids=[q.pk for q in questions],
        finished_at=timezone.now(), correct=correct, graded=len(results), passed=correct == len(results),
    )  # fmt: skip
    Answer.objects.bulk_create(
        Answer(attempt=attempt, question=q, response=_response(q, right, rng), correct=right) for q, right in results
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=200, help="learners in the cohort")
    parser.add_argument("--renders", type=int, default=15, help="timed renders of the page and of the heatmap")
    parser.add_argument("--previews", type=int, default=50, help="timed live previews of a 1,500-word lesson")
    args = parser.parse_args()
    for name in ("learners", "renders", "previews"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    django_ready()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cohorts import selectors
    from lessons.models import Node

    started = time.perf_counter()
    instructor, cohort, answers = build(args.learners)
    print(f"built {args.learners} learners and {answers:,} answers in {time.perf_counter() - started:.0f} s")
    client = Client()
    client.force_login(instructor)
    page = f"/studio/cohorts/{cohort.pk}/"

    def get_page() -> None:
        response = client.get(page)
        assert response.status_code == 200, response.status_code

    def get_heatmap() -> None:
        response = client.get(page, HTTP_HX_REQUEST="true")
        assert response.status_code == 200, response.status_code

    def get_page_first() -> None:
        # A cohort's first load in a process: every answer of the cohort is read.
        selectors._figures.clear()
        get_page()

    learners = list(User.objects.filter(username__startswith="learner-"))
    stages = list(Node.objects.order_by("order"))
    rng = random.Random(7)

    def get_page_after_a_quiz() -> None:
        # A learner finished a quiz since the last load: only that attempt's answers are read and added.
        finish_attempt(rng.choice(learners), rng.choice(stages), rng)
        started = time.perf_counter()
        get_page()
        return (time.perf_counter() - started) * 1000

    def build_report() -> None:
        selectors.cohort_report(cohort=cohort)

    def build_report_first() -> None:
        selectors._figures.clear()
        build_report()

    calls = {
        "page": get_page, "after a quiz": get_page_after_a_quiz, "first load": get_page_first,
        "heatmap": get_heatmap, "report": build_report, "report first": build_report_first,
    }  # fmt: skip
    for call in calls.values():
        timed(call, 3)
    get_page()  # the figures kept again after the first loads above
    with CaptureQueriesContext(connection) as captured:
        get_page()
    queries = len(captured.captured_queries)
    size = len(client.get(page).content)
    built = selectors.cohort_report(cohort=cohort)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"database: {engine}; {len(built.learners)} learners × {len(built.heatmap.stages)} stages, "
        f"{len(built.questions)} graded questions, {built.finished_attempts:,} finished attempts, "
        f"{len(built.stuck)} stuck"
    )
    timings: dict[str, list[float]] = {name: [] for name in calls}
    # The cases take turns, render by render, so that other work on the machine slows them alike.
    for _ in range(args.renders):
        for name, call in calls.items():
            timings[name] += timed(call, 1)
    figures = {name: statistics.median(values) for name, values in timings.items()}
    for name, values in timings.items():
        print(f"{name:<14} median {figures[name]:7.1f} ms, min {min(values):7.1f} ms, max {max(values):7.1f} ms")
    report(f"cohort page with {args.learners} learners", figures["page"], "ms")
    report(f"cohort page with {args.learners} learners after a quiz finished", figures["after a quiz"], "ms")
    report(f"cohort page with {args.learners} learners first load", figures["first load"], "ms")
    report(f"cohort heatmap with {args.learners} learners", figures["heatmap"], "ms")
    report(f"cohort report with {args.learners} learners", figures["report"], "ms")
    report(f"cohort report with {args.learners} learners first load", figures["report first"], "ms")
    report(f"cohort page with {args.learners} learners queries", queries, "queries", digits=0)
    report(f"cohort page with {args.learners} learners page size", size / 1024, "KB")

    from lesson_preview import measure_preview

    preview = measure_preview(args.previews)
    print(f"lesson preview of {preview['words']:.0f} words, {args.previews} previews")
    report("lesson preview 1500 words median", preview["median_ms"], "ms")
    report("lesson preview 1500 words p95", preview["p95_ms"], "ms")


if __name__ == "__main__":
    main()
